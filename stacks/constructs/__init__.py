"""The compute stack's capabilities, one construct each.

- `functions.PythonFunctions`: the shared layers and the one factory for every function
- `api.ApiLoadBalancer`: the ALB, its listeners, access logs, optional WAF, routes
- `ingest.Ingest`: POST orders -> the orders queue
- `process.Processing`: the orders queue -> the orders table
- `status.Status`: GET/HEAD an order's status, read-only on the orders table
- `files.FileProcessing`: files under `incoming/` -> transactions + customers (issue 8)
- `aggregation.Aggregation`: the transactions and orders streams -> totals + alerts

`capability.Capability` keeps each resource's logical id what it would be without the
construct around it (see its module doc).
"""

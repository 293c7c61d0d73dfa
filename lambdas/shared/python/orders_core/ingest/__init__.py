"""The ingest function's logic (orders-ingest: ALB POST -> SQS).

``body`` reads the request, ``service`` validates, stamps and queues the orders, ``api``
names the paths and shapes the 202 answers, ``queue`` is the only code that calls SQS,
``settings`` is what the function reads from its environment.
"""

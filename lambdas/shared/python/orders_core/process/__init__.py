"""The process function's logic (orders-process: SQS -> orders table).

``service`` turns one queue message into one conditional write (the batch around it is
``orders_core.batch``), ``table`` is the only code that calls DynamoDB, ``settings`` is
what the function reads from its environment.
"""

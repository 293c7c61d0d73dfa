"""The process function's logic (orders-process: SQS -> orders table).

``batch`` runs each record of an SQS batch and reports the failed ones, ``service`` turns
one queue message into one conditional write, ``table`` is the only code that calls
DynamoDB, ``settings`` is what the function reads from its environment.
"""

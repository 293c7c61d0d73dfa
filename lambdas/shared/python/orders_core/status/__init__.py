"""The status function's logic (orders-status: ALB GET/HEAD -> the orders table, read only).

``request`` reads the path's segments and ``?version`` (URL-decoded, validated with the
order model's rules), ``service`` answers a status query, ``api`` names the route and
shapes the answers, ``table`` is the only code that reads DynamoDB, ``settings`` is what
the function reads from its environment.
"""

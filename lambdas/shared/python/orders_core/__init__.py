"""Code shared by the ingest and process functions, shipped as one Lambda layer.

Pure Python: imports only the standard library, boto3/botocore, aws_lambda_powertools
and pydantic, which the Lambda runtime and the Powertools layer provide.
"""

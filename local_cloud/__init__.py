"""An embedded local AWS cloud for CDK apps: deploys a synthesized assembly into moto and
runs it (ALB front door, SQS event source mappings, Lambda execution environments).

Kept import-light on purpose: Lambda execution environments import this package before
the function's own code, so it must not pull in boto3 or moto. Use
``from local_cloud.cloud import LocalCloud``.
"""

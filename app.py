#!/usr/bin/env python3
"""The CDK app: reads the settings, composes the stacks, runs cdk-nag.

Four stacks, plus the edge function's own us-east-1 stack when the edge is on in another
region (made by the compute stack's edge front).
"""

from __future__ import annotations

import sys

from aws_cdk import App, Aspects, Tags, Validations
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from stacks.common import DropRedundantRoleDependencies, ExplainCdkProviderFunctions
from stacks.compute_stack import ComputeStack
from stacks.constructs.functions import LayerLimitError
from stacks.data_stack import DataStack
from stacks.ledger import LedgerResources
from stacks.network_stack import NetworkStack
from stacks.pipeline_stack import PipelineIdentityStack, pipeline_stack_name
from stacks.queue_stack import QueueStack
from stacks.settings import Settings, SettingsError


def build_app(app: App) -> App:
    """Compose the stacks on `app` (tests call this with their own context)."""
    settings = Settings.from_context(app.node.try_get_context)
    network = NetworkStack(app, settings.stack_name("Network"), settings=settings)
    data = DataStack(app, settings.stack_name("Data"), settings=settings)
    queue = QueueStack(app, settings.stack_name("Queue"), settings=settings)
    ComputeStack(
        app,
        settings.stack_name("Compute"),
        settings=settings,
        network=network,
        table=data.table,
        queue=queue.queue,
        dead_letter_queue=queue.dead_letter_queue,
        ledger=LedgerResources.of(data, queue),
    )
    if settings.github_repository:  # optional: the CI/CD identity, one stack per account
        PipelineIdentityStack(app, pipeline_stack_name(settings), settings=settings)
    # best practice to help identify resources (and their cost) in the console
    Tags.of(app).add("project", settings.app_name)
    Tags.of(app).add("stage", settings.stage)
    Aspects.of(app).add(DropRedundantRoleDependencies())
    Aspects.of(app).add(ExplainCdkProviderFunctions())
    # Every synth is checked; an unacknowledged finding fails it.
    Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
    if not settings.edge_on:
        print(
            "note: the edge is off, so the API is open to anyone who can reach the load "
            "balancer (-c edge_enabled=true puts CloudFront in front: HTTPS, optional tokens)",
            file=sys.stderr,
        )
    if not settings.edge_on and not settings.https:
        print(
            "note: no certificate_arn set, so the API is served over plain HTTP on port 80 "
            "(set -c certificate_arn=arn:aws:acm:... for HTTPS)",
            file=sys.stderr,
        )
    return app


def main() -> None:
    app = App()
    try:
        build_app(app)
    except (SettingsError, LayerLimitError) as error:
        sys.exit(f"error: {error}")
    app.synth()


if __name__ == "__main__":
    main()

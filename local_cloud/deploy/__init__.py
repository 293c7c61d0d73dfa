"""Deploying a synthesized CDK assembly into the emulation, as `cdk deploy` would.

assembly       reads cdk.out: stacks in deploy order, templates, file and Docker image assets
bootstrap      the CDKToolkit stack, from the CDK CLI's own template, as `cdk bootstrap` makes it
template_prep  the deployable copy of a template: custom resources whose provider cannot run
               and types moto cannot create left out; SSM parameters to seed; all recorded
moto_types     which resource types moto's CloudFormation can create (the emulation says)
deployer       bootstraps, publishes, creates the stacks, completes what moto's CloudFormation
               skips
differences    every way the result differs from the assembly, by kind (banner, `status`)
"""

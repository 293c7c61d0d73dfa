"""Deploying a synthesized CDK assembly into the emulation, as `cdk deploy` would.

assembly       reads cdk.out: stacks in deploy order, templates, file and Docker image assets
template_prep  the deployable copy of a template: what moto cannot create left out, public
               SSM defaults moved, moto crashes worked around; every change recorded
moto_types     which resource types moto's CloudFormation can create
deployer       seeds the bootstrap, creates the stacks, completes what moto's CloudFormation skips
differences    every way the result differs from the assembly, by kind (banner, `status`)
"""

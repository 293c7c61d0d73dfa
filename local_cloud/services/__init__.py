"""The emulated services, running while `up` runs.

emulator      moto's server in its own process (moto_patches: what it needs changed there)
faults        DynamoDB write faults injected on the wire, in front of moto
alb           the load balancer's rules, events and answers (no I/O)
frontdoor     the HTTP server that plays the listener with alb
pollers       the Lambda service's SQS event source mappings
functions     deployed functions read back into runnable specs
environments  Lambda execution environments: one process per warm environment

Kept import-light: execution environments import this package before the function's code.
"""

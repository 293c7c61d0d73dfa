"""What an operator does with a running local cloud: one module per command.

The functions return data (the e2e tests call them); the ``print_*`` ones are the CLI's.
"""

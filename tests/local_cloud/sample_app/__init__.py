"""A small CDK app, unrelated to the orders app, that exercises every feature of local_cloud."""

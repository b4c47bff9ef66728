"""Leaf modules every layer may use: config (validated at cold start), errors, clock, ids,
logging, the AWS client cache, SQS batch handling, resource names."""

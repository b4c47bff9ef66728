"""Serverless Webhooks: the code every Lambda function imports (models, signing, data access)."""

__version__ = "0.1.0"

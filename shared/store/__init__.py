"""Storage: the only modules that call AWS data services (DynamoDB, SQS, S3, Secrets Manager,
Step Functions). They raise domain errors from shared.core.errors, never HTTP answers."""

"""Lambda functions: one folder each, thin handlers over the `shared` package."""

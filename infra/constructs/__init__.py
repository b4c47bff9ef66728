"""The stack's building blocks, one construct per concern, each from infra/declaration.py."""

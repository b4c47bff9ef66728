"""The stack's building blocks, one construct per concern, each derived from
shared.core.resources."""

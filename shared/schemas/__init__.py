"""Request models (`requests`) and response models (`responses`) of the HTTP API."""

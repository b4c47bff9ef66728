"""Local mode: the whole service on this machine, moto server standing in for AWS."""

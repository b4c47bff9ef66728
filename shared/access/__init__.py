"""Who is calling: API keys and the principal they stand for."""

"""Operations over what was stored: listing and replaying events, the dead-letter queue."""

"""PostgreSQL with a client-side deadline, so a frozen database fails requests in seconds."""

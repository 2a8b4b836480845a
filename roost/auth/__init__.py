"""Who is asking: tokens, passwords and the principal a request acts as."""

"""What every HTTP transport shares: the error base and the request guard, reading a body, a
bearer token. It imports nothing else of Roost, so every transport, and every error class
beneath them, can build on it without importing another transport."""

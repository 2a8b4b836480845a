"""The Works with Nest HTTP API: data locations over REST and Server-Sent Events."""

"""Nest's cloud: what it decided on its own, for every home, whether or not anything is
simulated (docs/architecture.md, "Who does what"). It acts through the service's write path
as the system principal, like every writer."""

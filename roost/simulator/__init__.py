"""The home simulator: the devices and Nest's own logic, acting through the same write path
as every client (see docs/simulator.md)."""

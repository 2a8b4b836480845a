"""Home Assistant over MQTT: every home of one user published with Home Assistant's discovery
convention, and commands taken back through the service's write path (docs/mqtt.md).

One module per Home Assistant platform (climate, select, binary_sensor, sensor, switch,
event), as Home Assistant's own integrations are laid out; ``device`` holds what every entity
shares, ``discovery`` puts a home's entities together, ``commands`` turns command messages
into writes, ``bridge`` keeps the broker connection.
"""

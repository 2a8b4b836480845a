"""Roost for integrations' test suites: a pytest plugin (:mod:`roost.testing.plugin`,
registered as the ``roost`` pytest11 entry point) whose fixtures run a Roost server in the
test process and give each test its own home. docs/testing-with-roost.md."""

"""Example code that is not deployed: inbound handlers the tests and local mode register."""

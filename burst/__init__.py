"""The `burst` command: offline plans and policy checks for the burst platform."""

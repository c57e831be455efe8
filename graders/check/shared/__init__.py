"""What both sides of the checks agree on: the steps, the observation's format and the checks' messages."""

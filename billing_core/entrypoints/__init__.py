"""Ways in from outside: the command line (python -m billing_core)."""

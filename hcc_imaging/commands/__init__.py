"""Subcommands of the hcc-imaging CLI, one module each with ``register(subparsers)``."""

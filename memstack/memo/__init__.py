"""The memo component."""

"""The memory component."""

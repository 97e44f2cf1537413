"""The task component."""

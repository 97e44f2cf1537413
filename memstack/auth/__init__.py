"""The auth component."""

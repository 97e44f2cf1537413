"""The tenant component."""

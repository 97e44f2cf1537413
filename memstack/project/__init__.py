"""The project component."""

"""Built-in commands: one thin module each, defining ``command``."""

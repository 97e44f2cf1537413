"""Reviewing without changing: ``check``, ``doctor``, lint, schema documentation, graph pictures, listings.

May import: any other part of the engine; nothing imports it but the front ends.
"""

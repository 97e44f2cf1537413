"""The revision tree: files -> graph -> plans, without running a revision or touching a database.

Owns: the pure graph (``graph``), plans over it and TARGET parsing (``planner``), reading revision
files (``loader``) with their cached headers (``index``) and checksums that are the same on every
Python (``checksum``), and the digest of a whole tree (``fingerprint``).
May import: ``memstack.core`` and ``memstack.engine.errors``; nothing else of the engine.
"""

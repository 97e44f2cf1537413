"""Hypothesis strategies, one module per input surface (issue 24).

* ``urls`` -- database URLs: schemes, hosts (IPv6 too), ports, credentials, databases, query options
* ``settings`` -- every setting of the chain as ``pyproject.toml`` values, ``.env`` lines and environment
  variables, and broken files (not TOML, not UTF-8)
* ``revisions`` -- revision files: coding lines, byte encodings, ids, down revisions, syntax
* ``names`` -- component names (``startcomponent``), revision messages (``makemigrations -m``), tag names,
  including names too long for the filesystem or the bookkeeping columns
* ``targets`` -- TARGET strings and ``--targets`` lists
* ``records`` -- unexpected values written into memstack's own tables and ``alembic_version``

The tests using them are ``tests/test_inputs_*.py``; the property they check is in ``support/inputs.py``.
"""

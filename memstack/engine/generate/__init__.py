"""Generating revisions: models compared with a scratch database built from the tree, written as files.

Owns: autodetection per component, comparison, references between tables, renames, downgrades,
the revision writer and the scratch database with its kept build.
May import: ``memstack.core``, ``memstack.engine.errors``, ``memstack.engine.workspace``,
``memstack.engine.tree``, ``memstack.engine.records`` and ``memstack.engine.run``.
"""

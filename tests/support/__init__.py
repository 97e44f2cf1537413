"""The test suite's helpers, each written once, in modules by job.

* ``databases`` -- the test servers, throw-away databases, connections and raw SQL
* ``projects`` -- project roots under ``tmp_path``, pyproject tables, component packages
* ``revisions`` -- the committed tree's revision ids (read from ``migrations/``), hand-written revisions
  and chains, same-size same-mtime edits
* ``running`` -- ``call_command``, ``main()`` in-process, ``manage.py`` and ``alembic`` in subprocesses
* ``inspect`` -- what a database holds: tables, columns, version rows, bookkeeping, snapshots
* ``legacy`` -- databases as MemStack's old code built them (adoption tests)
* ``preview`` -- previews compared with real runs: scripts, captured statements, psql / sqlite3 runs
* ``graphs`` -- graphs built by hand in memory (graph and planner unit tests): no files, no database
* ``foreign`` -- generated plain-Alembic projects in a foreign style (takeover tests)
* ``waiting`` -- waiting on the real event with a generous deadline: a file a child wrote whole, a line,
  the migration lock free, a session queued behind a table lock (never a fixed sleep)
* ``badinput`` -- the bad-input corpus's harness: the real ``manage.py``, its one message, the database unchanged
* ``inputs`` -- the input property (issue 24): ``main()`` in-process, one error line and one fix line, files unchanged
* ``strategies/`` -- Hypothesis strategies, one module per input surface (urls, settings, revisions, names, targets,
  records); profiles ``memstack`` (the normal suite) and ``long`` are registered in ``tests/conftest.py``
"""

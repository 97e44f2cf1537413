"""Copies the top-level ``migrations/`` into the wheel as ``memstack/_revisions/``.

An installed memstack finds its own components' revisions (and the Alembic environment,
``env.py``) through the package, so an application's ``[tool.alembic]`` can name them as
``memstack:_revisions/<label>``: no filesystem path into a virtual environment. The checkout
keeps its top-level ``migrations/`` (an editable install reads that folder).
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithRevisions(build_py):
    def run(self) -> None:
        super().run()
        source = Path(__file__).resolve().parent / "migrations"
        target = Path(self.build_lib) / "memstack" / "_revisions"
        files = [*source.glob("*/*.py"), source / "env.py", source / "script.py.mako"]
        for path in sorted(files):
            if "__pycache__" in path.parts:
                continue
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            self.copy_file(str(path), str(destination))


setup(cmdclass={"build_py": BuildWithRevisions})

#!/usr/bin/env python3
"""MemStack's management commands: ``python manage.py --help``."""
from memstack.cli import main

if __name__ == "__main__":
    main()

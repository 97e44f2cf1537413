<%!
import sys

from memstack.alembic_env import MAKEMIGRATIONS_HINT

sys.stderr.write("'alembic revision' is not how memstack revisions are made. " + MAKEMIGRATIONS_HINT + "\n")
raise SystemExit(1)
%>

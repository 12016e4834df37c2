"""What the database benches share: a scratch PostgreSQL database and a query counter."""

import os
import sys
import tempfile
from urllib.parse import urlsplit, urlunsplit


def scratch_database_from_env() -> str:
    """Check DATABASE_URL names PostgreSQL, create that database if missing, and set the
    environment a bench runs Django in (production-like: DEBUG off, its own var folder)."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("Set DATABASE_URL to a scratch PostgreSQL database, e.g. postgres://postgres@127.0.0.1:5432/upward_bench")
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    maintenance = urlunsplit(("postgresql", parts.netloc, "/postgres", "", ""))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mentoring.settings")
    os.environ.setdefault("DEBUG", "false")  # no query log in memory, cached templates: as in production
    os.environ.setdefault("UPWARD_VAR_DIR", tempfile.mkdtemp(prefix="upward-bench-"))
    return url


class QueryCounter:
    """A connection.execute_wrapper that counts the queries run inside it."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)

"""Fixtures shared by the whole suite: a real PostgreSQL server and stores.

The PostgreSQL fixtures use ``$EXCH_TEST_PG`` (default
``postgresql://postgres@127.0.0.1:5432/test``). When the server does not
answer they skip with a message saying what is missing, except when the
environment variable ``CI`` is set: then they fail, so CI never passes by
skipping the PostgreSQL half of the suite.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from exchange.store.base import Store
from exchange.store.postgres import PostgresStore
from exchange.store.sqlite import SQLiteStore

PG_URL = os.environ.get("EXCH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
TEST_ROUNDS = 4
"""bcrypt cost in tests (the default 12 takes ~0.25 s a hash)."""


@pytest.fixture(scope="session")
def pg_url() -> str:
    """The URL of a PostgreSQL server that answers (skips, or fails under CI, if none)."""
    try:
        with psycopg.connect(PG_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        message = (
            f"PostgreSQL is not reachable at {PG_URL} ({str(exc).strip().splitlines()[0]}); "
            "start a server there or set EXCH_TEST_PG to run the PostgreSQL tests"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return PG_URL


@pytest.fixture
def pg_schema(pg_url: str) -> Iterator[str]:
    """A fresh schema for one test, dropped afterwards."""
    schema = f"exch_test_{uuid.uuid4().hex[:12]}"
    yield schema
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


StoreFactory = Callable[[], Store]


@pytest.fixture(params=["sqlite", "postgresql"])
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Opens stores on one backend's storage for this test (each call a new connection)."""
    opened: list[Store] = []
    if request.param == "sqlite":
        home = tmp_path / "home"

        def make() -> Store:
            store = SQLiteStore(home, bcrypt_rounds=TEST_ROUNDS)
            opened.append(store)
            return store
    else:
        url = request.getfixturevalue("pg_url")
        schema = request.getfixturevalue("pg_schema")

        def make() -> Store:
            store = PostgresStore(url, schema=schema, bcrypt_rounds=TEST_ROUNDS)
            opened.append(store)
            return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(store_factory: StoreFactory) -> Store:
    """A store on each backend (the test runs once per backend)."""
    return store_factory()


def pytest_report_header() -> str:
    """Which exch the run tests: the installed build or the checkout (tests/installed.py), and its engine."""
    import exchange
    from exchange.engine import engine_build

    return f"exch under test: {Path(exchange.__file__).parent} (engine: {engine_build().description})"

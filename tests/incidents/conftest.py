"""The incident desk for every test here, on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.store.db import Database
from tests.incidents.desk import Desk, make_desk


@pytest.fixture
def desk(tmp_path: Path, database: Database) -> Desk:
    return make_desk(tmp_path, database)

"""Fixtures of the outbox's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mu.generator.outbox import Supervisor


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "outbox.sqlite3"


@pytest.fixture
def running() -> Iterator[list[Supervisor]]:
    started: list[Supervisor] = []
    yield started
    for supervisor in started:
        supervisor.stop(5.0)

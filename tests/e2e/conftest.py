"""Fixtures of the scenario tests (issue 14, item 3): a stopwatch that reports how long
a scenario's steps took (a test property and a printed line; never asserted: a time
depends on the machine, a behaviour does not)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.e2e.kit import Stopwatch


@pytest.fixture
def stopwatch(
    request: pytest.FixtureRequest, record_property: Callable[[str, object], None]
) -> Stopwatch:
    """A `Stopwatch` named after the scenario id in the test's name (`test_1_1_...`)."""
    parts = request.node.name.split("_")
    return Stopwatch(f"{parts[1]}.{parts[2]}", record_property)

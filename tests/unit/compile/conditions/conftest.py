"""Shared fixtures for the condition-language tests: an environment and a fake `Tx`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import pytest

from mu.generator.compile.conditions import TypeEnv, compile_condition
from mu.generator.compile.model import CORE_FIELDS

RANKS = {"L1": 1, "L2": 2, "L3": 3, "L4": 4, "L5": 5, "CFO": 9}

EXTRA_FIELDS = {
    "counterparty.country": "string",
    "counterparty.is_new": "boolean",
    "counterparty.risk_score": "integer",
    "fx.rate": "decimal",
    "reviewer.authority": "authority",
}

DEFAULT_VALUES: dict[str, Any] = {
    "id": "tx-1",
    "type": "payment",
    "amount": Decimal("100.00"),
    "currency": "EUR",
    "initiator.id": "alice",
    "approver.id": "bob",
    "approver.authority": "L3",
    "executor.id": "carol",
    "counterparty.country": "DE",
    "counterparty.is_new": False,
    "counterparty.risk_score": 10,
    "fx.rate": Decimal("1.0850"),
    "reviewer.authority": "L2",
}


class FakeTx:
    """What a compiled condition may use (`tx[path]`, `tx.rank`), backed by plain dicts."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = dict(values)
        self.reads: list[str] = []

    def __getitem__(self, path: str) -> Any:
        self.reads.append(path)
        return self.values[path]

    def rank(self, code: str) -> int:
        return RANKS[code]


def make_env() -> TypeEnv:
    """The environment every test uses: core fields, a few extras, six codes."""
    fields: dict[str, str] = {f.path: f.datatype for f in CORE_FIELDS}
    fields.update(EXTRA_FIELDS)
    return TypeEnv(fields=fields, authority_codes=frozenset(RANKS))


def run_source(source: str, values: Mapping[str, Any]) -> Any:
    """Evaluate emitted source with nothing but `tx` and `Decimal` in scope."""
    tx = FakeTx({**DEFAULT_VALUES, **values})
    return eval(source, {"__builtins__": {}}, {"tx": tx, "Decimal": Decimal})


@pytest.fixture(scope="session")
def env() -> TypeEnv:
    return make_env()


@pytest.fixture(scope="session")
def evaluate(env: TypeEnv) -> Callable[..., Any]:
    """`evaluate(text, {path: value})`: compile `text` and run it on a fake tx."""

    def run(text: str, values: Mapping[str, Any] | None = None) -> Any:
        return run_source(compile_condition(text, env).source, values or {})

    return run


@pytest.fixture(scope="session")
def run() -> Callable[[str, Mapping[str, Any]], Any]:
    """`run(source, {path: value})`: evaluate already emitted source on a fake tx."""
    return run_source


@pytest.fixture(scope="session")
def fake_tx() -> type[FakeTx]:
    """The `FakeTx` class, for tests that inspect what a condition read."""
    return FakeTx

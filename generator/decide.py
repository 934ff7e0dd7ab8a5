"""`mu decide`: evaluate one transaction with a generated enforcer package."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.enforcer_loader import load_enforcers
from generator.errors import CheckFailed, InputError, Problem


@dataclass(frozen=True)
class DecideResult:
    """The decision as plain data (`Decision.to_dict()`)."""

    decision: dict[str, Any]


def read_transaction(path: Path) -> Any:
    """Read a transaction JSON file; unreadable or malformed JSON is an input error."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read `{path}`: {exc}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"`{path}` is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from exc


def decide(enforcers_dir: Path, transaction_path: Path) -> DecideResult:
    """Evaluate the transaction in `transaction_path`; a refused transaction is a failed check."""
    module = load_enforcers(enforcers_dir)
    transaction = read_transaction(transaction_path)
    try:
        decision = module.evaluate(transaction)
    except module.InvalidTransaction as exc:
        raise CheckFailed(
            f"transaction refused (fails closed): {len(exc.problems)} problem(s)",
            hint="fix every field listed; the enforcer never approves what it cannot check",
            problems=[Problem(f"`{p.field}`", p.message) for p in exc.problems],
        ) from exc
    except module.EnforcementError as exc:
        raise CheckFailed(
            f"the enforcer could not decide: {exc}", hint="escalate with `mu diagnose`"
        ) from exc
    return DecideResult(decision.to_dict())

"""`check_sinks` and `exercise`: can a release's actions be delivered, before promotion?"""

from __future__ import annotations

from pathlib import Path

from mu.generator.outbox import DeliveryConfig, RecordingSink, check_sinks, exercise
from mu.generator.outbox.plan import Delivery
from mu.generator.outbox.sinks import DeliveryError
from tests.unit.outbox.helpers import LEDGER, NOTIFY, config


def test_a_complete_configuration_has_no_problems(tmp_path: Path) -> None:
    assert check_sinks([LEDGER, NOTIFY], config(tmp_path), environ={}) == []


def test_missing_ledger_and_notify_channel(tmp_path: Path) -> None:
    sox = {**LEDGER, "control_id": "sox_log", "targets": ["sox"]}
    problems = check_sinks([sox, NOTIFY], config(tmp_path, smtp=False, webhook=False),
                           environ={})
    messages = [(p.where, p.message) for p in problems]
    assert ("control `sox_log`", "writes to the ledger `sox`, which is not configured") in messages
    assert any("neither `[smtp]` nor `[webhook]`" in m for _, m in messages)
    assert all(p.hint for p in problems)


def test_unset_secrets_and_unwritable_ledgers(tmp_path: Path) -> None:
    base = config(tmp_path / "missing")
    assert base.smtp is not None and base.webhook is not None
    cfg = DeliveryConfig(
        smtp=base.smtp.__class__(**{**base.smtp.__dict__, "username": "u",
                                    "password_env": "MU_PW"}),
        webhook=base.webhook.__class__(url=base.webhook.url, secret_env="MU_SECRET"),
        ledgers=base.ledgers,
    )
    problems = check_sinks([LEDGER], cfg, environ={"MU_PW": "x"})
    assert [p.where for p in problems] == ["[webhook]", "[ledgers.audit]"]
    assert "MU_SECRET" in problems[0].message


def test_exercise_renders_every_action_on_every_channel() -> None:
    sinks = {"smtp": RecordingSink(), "webhook": RecordingSink(), "ledger": RecordingSink()}
    assert exercise([LEDGER, NOTIFY], sinks) == []
    assert [len(s.records) for s in sinks.values()] == [1, 1, 1]
    (mail,) = sinks["smtp"].records
    assert b"health-check" in mail.rendered


def test_exercise_reports_failures_and_missing_sinks() -> None:
    class Broken:
        def deliver(self, delivery: Delivery, timeout: float) -> None:
            raise DeliveryError("template exploded")

    problems = exercise([LEDGER, NOTIFY], {"ledger": Broken()})
    assert [(p.where, p.message) for p in problems] == [
        ("control `notify_compliance`", "no test sink takes `notify` actions"),
        ("control `audit_reject` by ledger", "the test delivery failed: template exploded"),
    ]
    bad = {**NOTIFY, "targets": ["not, an address"]}
    problems = exercise([bad], {"smtp": RecordingSink()})
    assert len(problems) == 1 and "not a mail address" in problems[0].message

"""`deliveries_for`: one delivery per action and channel, keys and dependencies (SPEC §3, §10)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mu.generator.errors import InputError
from mu.generator.outbox import deliveries_for
from tests.unit.outbox.helpers import LEDGER, NOTIFY, Record, config


def test_channels_keys_and_dependencies() -> None:
    record = Record(actions=(LEDGER, NOTIFY))
    out = deliveries_for(record, config())
    assert [d.key for d in out] == [
        "d-1:audit_reject/ledger",
        "d-1:notify_compliance/smtp",
        "d-1:notify_compliance/webhook",
    ]
    ledger, smtp, webhook = out
    assert ledger.idempotency_key == "d-1:audit_reject"
    assert smtp.idempotency_key == webhook.idempotency_key == "d-1:notify_compliance"
    assert ledger.after == ()
    assert smtp.after == webhook.after == ("d-1:audit_reject/ledger",)
    assert smtp.seq == 1 and smtp.targets == ("compliance@example.com",)
    assert dict(smtp.payload) == {
        "decision_id": "d-1",
        "idempotency_key": "d-1:notify_compliance",
        "control_id": "notify_compliance",
        "kind": "notify",
        "targets": ["compliance@example.com"],
        "outcome": "REJECT",
        "transaction": {"id": "tx-1", "type": "payment"},
        "release": "ab" * 32,
        "decided_at": "2025-01-02T03:04:05.000Z",
    }


def test_a_dependency_on_notify_waits_for_every_channel() -> None:
    ledger_after_notify = {**LEDGER, "after": ["notify_compliance"]}
    notify_first = {**NOTIFY, "after": []}
    out = deliveries_for(Record(actions=(notify_first, ledger_after_notify)), config())
    assert out[-1].after == ("d-1:notify_compliance/smtp", "d-1:notify_compliance/webhook")


def test_only_configured_channels() -> None:
    out = deliveries_for(Record(actions=(LEDGER, NOTIFY)), config(smtp=False))
    assert [d.channel for d in out] == ["ledger", "webhook"]
    out = deliveries_for(Record(actions=(LEDGER, NOTIFY)), config(smtp=False, webhook=False))
    assert [d.channel for d in out] == ["ledger"]


def test_after_naming_actions_not_emitted_or_itself_is_ignored() -> None:
    lonely = {**NOTIFY, "after": ["not_emitted", "notify_compliance"]}
    (smtp, _) = deliveries_for(Record(actions=(lonely,)), config())
    assert smtp.after == ()


def test_no_actions_no_deliveries() -> None:
    assert deliveries_for(Record(actions=()), config()) == []


def test_transaction_fields_as_text() -> None:
    record = Record(transaction={"id": Decimal("12"), "type": "payment"}, actions=(LEDGER,))
    (ledger,) = deliveries_for(record, config())
    assert ledger.payload["transaction"] == {"id": "12", "type": "payment"}
    (ledger,) = deliveries_for(Record(transaction=[1], actions=(LEDGER,)), config())
    assert ledger.payload["transaction"] == {"id": None, "type": None}


@pytest.mark.parametrize(
    ("action", "words"),
    [
        ("nope", "not an object"),
        ({**LEDGER, "kind": "email"}, "unknown kind"),
        ({**LEDGER, "control_id": ""}, "no control id"),
        ({**LEDGER, "targets": "audit"}, "targets"),
        ({**LEDGER, "after": [1]}, "after"),
    ],
)
def test_malformed_actions_are_refused(action: object, words: str) -> None:
    with pytest.raises(InputError, match=words):
        deliveries_for(Record(actions=(action,)), config())  # type: ignore[arg-type]


def test_repeated_control_id_is_refused() -> None:
    with pytest.raises(InputError, match="repeats"):
        deliveries_for(Record(actions=(LEDGER, LEDGER)), config())

"""`mu deploy`'s health check delivers every action kind the release emits to test sinks
before promotion (issue 12): rendering a mail, a webhook body or a ledger line must work
before the release goes live."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mu.generator.operate import healthcheck
from mu.generator.operate.healthcheck import check_release
from mu.generator.run.enforcers import load_enforcers, release_actions

REPO = Path(__file__).resolve().parents[3]


def test_every_notification_and_audit_control_is_exercised() -> None:
    package = load_enforcers(REPO / "enforcers")
    actions = release_actions(package)
    assert {a["kind"] for a in actions} == {"notify", "ledger"}
    kinds = {m.CONTROL_ID: m.KIND for m in package.dispatch.CONTROLS}
    assert len(actions) == sum(k in ("notification", "audit_log") for k in kinds.values())
    result = healthcheck._exercise_actions(package)
    assert result == {"exercised": len(actions), "problems": []}


def test_an_action_that_cannot_be_rendered_fails_the_check() -> None:
    package = load_enforcers(REPO / "enforcers")
    notify = next(m for m in package.dispatch.CONTROLS if m.KIND == "notification")
    saved = notify.RECIPIENTS
    notify.RECIPIENTS = ("not an address\r\nBcc: everyone@example.com",)
    try:
        result = healthcheck._exercise_actions(package)
    finally:
        notify.RECIPIENTS = saved
    assert result["problems"], result


@pytest.mark.slow
def test_the_fresh_process_check_reports_the_actions(tmp_path: Path) -> None:
    release = tmp_path / "release"
    shutil.copytree(REPO / "enforcers", release, ignore=shutil.ignore_patterns("__pycache__"))
    report = check_release(release, REPO / "golden")
    assert report.ok, report
    assert report.actions_exercised == len(release_actions(load_enforcers(REPO / "enforcers")))
    assert report.action_problems == ()

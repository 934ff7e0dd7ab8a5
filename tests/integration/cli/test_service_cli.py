"""`mu serve`, `mu decisions verify` and `mu actions` refuse bad usage with exit 2 and a
hint, in process (the served end to end is `tests/integration/service/`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.conftest import Run


def test_serve_without_a_runtime_key_is_refused(
    repo: Path, tmp_path: Path, mu: Callable[..., Run]
) -> None:
    run = mu("serve", "--target", str(tmp_path / "current"), root=repo)
    assert run.code == 2
    assert "runtime key" in run.err and "runtime_key" in run.err
    assert not (tmp_path / "current.decisions").exists()


def test_serve_with_a_bad_configuration_names_the_key(
    repo: Path, tmp_path: Path, mu: Callable[..., Run]
) -> None:
    config = tmp_path / "serve.toml"
    config.write_text("[server]\nport = 'eighty'\n", encoding="utf-8")
    run = mu("serve", "--target", str(tmp_path / "t"), "--config", str(config), root=repo)
    assert run.code == 2
    assert "`port`" in run.err
    assert "Traceback" not in run.err


def test_serve_refuses_a_log_inside_the_repository(
    repo: Path, tmp_path: Path, mu: Callable[..., Run]
) -> None:
    config = tmp_path / "serve.toml"
    config.write_text(f'[server]\nruntime_key = "{tmp_path / "k.pem"}"\n', encoding="utf-8")
    run = mu("serve", "--target", str(tmp_path / "t"), "--config", str(config),
             "--log", str(repo / "receipts" / "log"), root=repo)
    assert run.code == 2
    assert "receipts/" in run.err


def test_decisions_verify_of_a_missing_log_is_bad_input(
    repo: Path, tmp_path: Path, mu: Callable[..., Run]
) -> None:
    run = mu("decisions", "verify", str(tmp_path / "nowhere"), root=repo)
    assert run.code == 2
    assert "Traceback" not in run.err


def test_actions_need_a_target_or_a_log(repo: Path, tmp_path: Path, mu: Callable[..., Run]) -> None:
    run = mu("actions", "status", root=repo)
    assert run.code == 2 and "--target" in run.err
    run = mu("actions", "retry", "--log", str(tmp_path), root=repo)
    assert run.code == 2 and "no outbox" in run.err

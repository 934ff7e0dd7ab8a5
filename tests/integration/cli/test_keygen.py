"""`mu keygen` on the command line: `MU_KEY_PASSPHRASE` encrypts the key, and an
unencrypted key is announced as such."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mu.generator.provenance.keys import load_private_key
from tests.conftest import Run

Mu = Callable[..., Run]


def test_keygen_encrypts_with_the_environment_passphrase(
    mu: Mu, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MU_KEY_PASSPHRASE", "correct horse")
    out = tmp_path / "keys" / "k.pem"
    run = mu("keygen", "--out", str(out), root=tmp_path / "repo")
    assert run.code == 0, run.err
    assert b"ENCRYPTED" in out.read_bytes()
    assert load_private_key(out, b"correct horse") is not None
    assert "NOT encrypted" not in run.out + run.err


def test_keygen_says_clearly_when_the_key_is_not_encrypted(
    mu: Mu, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MU_KEY_PASSPHRASE", raising=False)
    out = tmp_path / "keys" / "k.pem"
    run = mu("keygen", "--out", str(out), root=tmp_path / "repo")
    assert run.code == 0, run.err
    assert f"the private key `{out}` is NOT encrypted" in run.out + run.err


def test_keygen_refuses_an_empty_environment_passphrase(
    mu: Mu, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MU_KEY_PASSPHRASE", "")
    out = tmp_path / "keys" / "k.pem"
    run = mu("keygen", "--out", str(out), root=tmp_path / "repo")
    assert run.code == 2
    assert "`MU_KEY_PASSPHRASE` is empty or unset" in run.err
    assert not out.exists()

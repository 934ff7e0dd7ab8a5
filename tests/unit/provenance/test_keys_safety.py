"""Keys: `keygen` encrypts with `MU_KEY_PASSPHRASE` (or says it did not), a private
key others may read or write never signs, and unwritable targets are clear errors."""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from mu.generator.errors import ExitCode, InputError
from mu.generator.layout import Layout
from mu.generator.provenance.keys import generate_keypair, keyid_of, load_private_key
from mu.generator.provenance.signing import resolve_signer
from tests.conftest import Run, copy_repo

Mu = Callable[..., Run]


@pytest.fixture(autouse=True)
def _no_passphrase(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MU_KEY_PASSPHRASE", raising=False)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_keygen_encrypts_with_mu_key_passphrase(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mu.generator.provenance.keys import keygen_passphrase

    monkeypatch.setenv("MU_KEY_PASSPHRASE", "correct horse")
    pair = generate_keypair(tmp_path / "k.pem", keygen_passphrase())
    assert pair.encrypted and pair.warning == ""
    assert b"ENCRYPTED" in pair.private_path.read_bytes()
    assert _mode(pair.private_path) == 0o600
    key = load_private_key(pair.private_path, b"correct horse")
    assert keyid_of(key.public_key()) == pair.keyid
    # The key signs through the same variable.
    signer = resolve_signer(Layout(tmp_path / "repo"), pair.private_path)
    assert signer.keyid == pair.keyid


def test_keygen_without_a_passphrase_says_the_key_is_not_encrypted(tmp_path: Path) -> None:
    from mu.generator.provenance.keys import keygen_passphrase

    pair = generate_keypair(tmp_path / "k.pem", keygen_passphrase())
    assert not pair.encrypted
    assert b"ENCRYPTED" not in pair.private_path.read_bytes()
    assert "is NOT encrypted" in pair.warning and "MU_KEY_PASSPHRASE" in pair.warning


def test_keygen_passphrase_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    from mu.generator.provenance.keys import keygen_passphrase

    assert keygen_passphrase() is None
    monkeypatch.setenv("MU_KEY_PASSPHRASE", "a")
    monkeypatch.setenv("OTHER", "b")
    assert keygen_passphrase() == b"a"
    assert keygen_passphrase("OTHER") == b"b"  # the explicit option wins
    for name, option in (("MU_KEY_PASSPHRASE", None), ("OTHER", "OTHER")):
        monkeypatch.setenv(name, "")
        with pytest.raises(InputError, match=f"`{name}` is empty or unset"):
            keygen_passphrase(option)
    with pytest.raises(InputError, match="`UNSET_VAR` is empty or unset"):
        keygen_passphrase("UNSET_VAR")


def _loose_key(tmp_path: Path, mode: int) -> Path:
    pair = generate_keypair(tmp_path / "keys" / "release.pem")
    os.chmod(pair.private_path, mode)
    return pair.private_path


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602, 0o700 | 0o010])
def test_a_private_key_others_may_access_never_signs(tmp_path: Path, mode: int) -> None:
    key = _loose_key(tmp_path, mode)
    with pytest.raises(InputError) as info:
        resolve_signer(Layout(tmp_path / "repo"), key)
    assert info.value.code == ExitCode.USAGE
    assert info.value.message == (
        f"private key `{key}` is readable or writable by group or others "
        f"(mode {mode:04o}); refusing to sign with it"
    )
    assert info.value.hint == f"chmod 600 {key}"


def test_every_signing_command_refuses_a_world_readable_key(mu: Mu, tmp_path: Path) -> None:
    root = copy_repo(tmp_path / "repo")
    key = _loose_key(tmp_path, 0o644)
    for argv in (
        ("build", "--sign-key", str(key)),
        ("approve", "--key", str(key)),
        ("replay", "--receipt", str(root / "receipts" / "0001-x.json"), "--sign-key", str(key)),
    ):
        run = mu(*argv, root=root)
        assert run.code == 2, (argv, run.out, run.err)
        assert f"private key `{key}` is readable or writable by group or others (mode 0644)" in (
            run.err
        )
        assert f"chmod 600 {key}" in run.err
    assert not (root / "receipts").exists() or not any((root / "receipts").rglob("*.json"))


def test_the_dev_key_is_created_0600_and_refused_once_loosened(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "repo")
    signer = resolve_signer(layout, None)
    assert signer.development and _mode(signer.path) == 0o600
    os.chmod(signer.path, 0o644)
    with pytest.raises(InputError, match=r"\(mode 0644\); refusing to sign with it"):
        resolve_signer(layout, None)


def test_an_empty_passphrase_variable_is_treated_as_unset_for_signing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pair = generate_keypair(tmp_path / "k.pem")
    monkeypatch.setenv("MU_KEY_PASSPHRASE", "")
    assert resolve_signer(Layout(tmp_path / "repo"), pair.private_path).keyid == pair.keyid


def test_unwritable_keygen_targets_are_clear_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Root may search and write anything, so the failures are simulated.
    blocked = tmp_path / "blocked" / "k.pem"
    real_stat = Path.stat

    def stat_or_eacces(self: Path, *, follow_symlinks: bool = True) -> os.stat_result:
        if self == blocked:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_stat(self, follow_symlinks=follow_symlinks)

    monkeypatch.setattr(Path, "stat", stat_or_eacces)
    with pytest.raises(InputError, match=re.escape(f"cannot write `{blocked}`: permission denied")):
        generate_keypair(blocked)
    monkeypatch.undo()

    readonly = tmp_path / "ro" / "k.pem"
    readonly.parent.mkdir()
    real_open = os.open

    def open_or_erofs(path: str | os.PathLike[str], flags: int, mode: int = 0o777) -> int:
        if Path(path).parent == readonly.parent:
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", open_or_erofs)
    with pytest.raises(
        InputError, match=re.escape(f"cannot write `{readonly}`: read-only file system")
    ):
        generate_keypair(readonly)
    assert not readonly.exists()

    under_a_file = tmp_path / "plain" / "k.pem"
    under_a_file.parent.write_text("", encoding="utf-8")
    with pytest.raises(InputError, match=r"cannot write .*: not a directory"):
        generate_keypair(under_a_file)

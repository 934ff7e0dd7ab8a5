"""Ed25519 keys: generation with safe modes, loading errors, git guards, the dev key."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mu.generator.errors import ExitCode, InputError
from mu.generator.provenance.keys import (
    KeyPair,
    dev_key_path,
    ensure_dev_key,
    generate_keypair,
    keyid_of,
    load_private_key,
    load_public_key,
    public_pem,
)


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The developer's own git config (a global excludes file ignoring *.pem, say)
    # and any repository above tmp_path must not decide these tests.
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(name, raising=False)


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-C", str(repo), *args],
        check=True,
        capture_output=True,
    )


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    return repo


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _message(info: pytest.ExceptionInfo[InputError]) -> str:
    assert info.value.code == ExitCode.USAGE
    assert info.value.hint
    return info.value.message


# keyid and PEM ----------------------------------------------------------------------------


def test_keyid_is_sha256_of_raw_public_key() -> None:
    key = Ed25519PrivateKey.generate().public_key()
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert len(raw) == 32
    assert keyid_of(key) == hashlib.sha256(raw).hexdigest()


def test_public_pem_is_subject_public_key_info() -> None:
    key = Ed25519PrivateKey.generate().public_key()
    pem = public_pem(key)
    assert pem.startswith("-----BEGIN PUBLIC KEY-----\n")
    assert pem.endswith("-----END PUBLIC KEY-----\n")
    assert keyid_of(serialization.load_pem_public_key(pem.encode())) == keyid_of(key)  # type: ignore[arg-type]


# generate_keypair -------------------------------------------------------------------------


def test_generate_writes_private_0600_and_public_0644(tmp_path: Path) -> None:
    out = tmp_path / "release.pem"
    pair = generate_keypair(out)
    assert pair == KeyPair(out, tmp_path / "release.pem.pub", pair.keyid)
    assert _mode(out) == 0o600
    assert _mode(pair.public_path) == 0o644
    assert out.read_text().startswith("-----BEGIN PRIVATE KEY-----\n")
    private = load_private_key(out)
    public = load_public_key(pair.public_path)
    assert keyid_of(private.public_key()) == keyid_of(public) == pair.keyid


def test_generated_keys_sign_and_verify(tmp_path: Path) -> None:
    pair = generate_keypair(tmp_path / "k.pem")
    signature = load_private_key(pair.private_path).sign(b"message")
    load_public_key(pair.public_path).verify(signature, b"message")


def test_private_key_is_0600_even_with_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        pair = generate_keypair(tmp_path / "k.pem")
    finally:
        os.umask(old)
    assert _mode(pair.private_path) == 0o600


def test_passphrase_round_trip(tmp_path: Path) -> None:
    pair = generate_keypair(tmp_path / "k.pem", b"correct horse")
    assert pair.private_path.read_text().startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
    key = load_private_key(pair.private_path, b"correct horse")
    assert keyid_of(key.public_key()) == pair.keyid


def test_missing_passphrase_says_to_set_the_variable(tmp_path: Path) -> None:
    pair = generate_keypair(tmp_path / "k.pem", b"secret")
    with pytest.raises(InputError) as info:
        load_private_key(pair.private_path)
    assert _message(info).startswith("the key is encrypted: set `MU_KEY_PASSPHRASE`")


def test_wrong_passphrase(tmp_path: Path) -> None:
    pair = generate_keypair(tmp_path / "k.pem", b"secret")
    with pytest.raises(InputError) as info:
        load_private_key(pair.private_path, b"guess")
    assert _message(info) == f"wrong passphrase for private key `{pair.private_path}`"


def test_passphrase_for_an_unencrypted_key(tmp_path: Path) -> None:
    pair = generate_keypair(tmp_path / "k.pem")
    with pytest.raises(InputError) as info:
        load_private_key(pair.private_path, b"secret")
    assert "is not encrypted" in _message(info)


def test_empty_passphrase_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        generate_keypair(tmp_path / "k.pem", b"")
    assert _message(info) == "the passphrase is empty"
    assert not (tmp_path / "k.pem").exists()


@pytest.mark.parametrize("existing", ["k.pem", "k.pem.pub"])
def test_refuses_to_overwrite(tmp_path: Path, existing: str) -> None:
    (tmp_path / existing).write_text("precious\n")
    with pytest.raises(InputError) as info:
        generate_keypair(tmp_path / "k.pem")
    assert _message(info) == f"`{tmp_path / existing}` already exists; refusing to overwrite a key"
    assert (tmp_path / existing).read_text() == "precious\n"
    assert len(list(tmp_path.iterdir())) == 1


def test_refuses_a_dangling_symlink(tmp_path: Path) -> None:
    (tmp_path / "k.pem").symlink_to(tmp_path / "elsewhere.pem")
    with pytest.raises(InputError, match="already exists"):
        generate_keypair(tmp_path / "k.pem")
    assert not (tmp_path / "elsewhere.pem").exists()


# loading errors ---------------------------------------------------------------------------


def test_load_missing_private_key(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        load_private_key(tmp_path / "nope.pem")
    assert _message(info) == f"private key `{tmp_path / 'nope.pem'}` does not exist"


def test_load_unreadable_private_key(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        load_private_key(tmp_path)  # a directory
    assert _message(info).startswith(f"cannot read private key `{tmp_path}`")


def test_load_garbage_private_key(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    path.write_text("not a key\n")
    with pytest.raises(InputError) as info:
        load_private_key(path)
    assert _message(info) == f"`{path}` is not a PEM private key"


def test_load_public_key_as_private_key_hints_at_the_private_file(tmp_path: Path) -> None:
    pair = generate_keypair(tmp_path / "k.pem")
    with pytest.raises(InputError) as info:
        load_private_key(pair.public_path)
    assert _message(info) == f"`{pair.public_path}` is not a PEM private key"
    assert "without `.pub`" in info.value.hint


def test_load_non_ed25519_private_key(tmp_path: Path) -> None:
    path = tmp_path / "ec.pem"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(InputError) as info:
        load_private_key(path)
    assert _message(info) == f"`{path}` holds an EC key, not an Ed25519 key"


def test_load_public_key_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        load_public_key(tmp_path / "nope.pub")
    assert _message(info) == f"public key `{tmp_path / 'nope.pub'}` does not exist"

    pair = generate_keypair(tmp_path / "k.pem")
    with pytest.raises(InputError) as info:
        load_public_key(pair.private_path)
    assert _message(info) == f"`{pair.private_path}` is not a PEM public key"
    assert "private key" in info.value.hint

    ec_pub = tmp_path / "ec.pub"
    ec_pub.write_bytes(
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(InputError) as info:
        load_public_key(ec_pub)
    assert _message(info) == f"`{ec_pub}` holds an EC key, not an Ed25519 key"


# git guards -------------------------------------------------------------------------------


def test_generate_inside_a_git_repository_is_refused(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    with pytest.raises(InputError) as info:
        generate_keypair(repo / "keys" / "k.pem", repo_root=repo)
    assert "not ignored by git" in _message(info)
    assert "outside the repository" in info.value.hint
    assert not (repo / "keys" / "k.pem").exists()


def test_generate_inside_a_git_repository_is_allowed_when_ignored(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    (repo / ".gitignore").write_text("*.pem\n")
    pair = generate_keypair(repo / "k.pem", repo_root=repo)
    assert _mode(pair.private_path) == 0o600
    # And once there, an ignored (untracked) key loads with the repository guard on.
    assert keyid_of(load_private_key(pair.private_path, repo_root=repo).public_key()) == pair.keyid


def test_generate_outside_the_repository_is_allowed(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    pair = generate_keypair(tmp_path / "k.pem", repo_root=repo)
    assert pair.private_path.exists()


def test_generate_inside_a_directory_that_is_not_a_repository_is_refused(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(InputError) as info:
        generate_keypair(plain / "k.pem", repo_root=plain)
    assert _message(info) == f"`{plain / 'k.pem'}` is inside the repository `{plain}`"


def test_generate_through_a_symlink_into_the_repository_is_refused(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    (tmp_path / "link").symlink_to(repo)
    with pytest.raises(InputError, match="not ignored by git"):
        generate_keypair(tmp_path / "link" / "k.pem", repo_root=repo)


def test_tracked_key_is_refused_by_load(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    (repo / ".gitignore").write_text("*.pem\n")
    pair = generate_keypair(repo / "k.pem", repo_root=repo)
    _git(repo, "add", "-f", "k.pem")
    _git(repo, "commit", "-q", "-m", "oops")
    with pytest.raises(InputError) as info:
        load_private_key(pair.private_path, repo_root=repo)
    assert _message(info) == f"private key `{pair.private_path}` is tracked by git in `{repo}`"
    # Without a repository root the same file loads: the guard is the caller's choice.
    load_private_key(pair.private_path)


def test_generate_over_a_tracked_ignored_path_is_refused(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    (repo / ".gitignore").write_text("*.pem\n")
    (repo / "k.pem").write_text("placeholder\n")
    _git(repo, "add", "-f", "k.pem")
    (repo / "k.pem").unlink()  # deleted from the work tree, still in the index
    with pytest.raises(InputError) as info:
        generate_keypair(repo / "k.pem", repo_root=repo)
    assert _message(info) == f"`{repo / 'k.pem'}` is tracked by git in `{repo}`"


def test_load_in_a_directory_that_is_not_a_repository_is_not_tracked(tmp_path: Path) -> None:
    pair = generate_keypair(tmp_path / "k.pem")
    load_private_key(pair.private_path, repo_root=tmp_path)


def test_load_without_git_installed_is_not_tracked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pair = generate_keypair(tmp_path / "k.pem")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    load_private_key(pair.private_path, repo_root=tmp_path)


# development key --------------------------------------------------------------------------


def test_dev_key_path_uses_xdg_config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    assert dev_key_path() == tmp_path / "cfg" / "mu" / "dev-signing-key.pem"


@pytest.mark.parametrize("xdg", [None, "", "relative/dir"])
def test_dev_key_path_defaults_to_dot_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, xdg: str | None
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    if xdg is None:
        monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_CONFIG_HOME", xdg)
    assert dev_key_path() == tmp_path / ".config" / "mu" / "dev-signing-key.pem"


def test_dev_key_is_created_once_and_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "cfg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    key, path = ensure_dev_key()
    assert path == config / "mu" / "dev-signing-key.pem"
    assert _mode(path) == 0o600
    assert _mode(config) == 0o700
    assert _mode(config / "mu") == 0o700
    assert path.read_text().startswith("-----BEGIN PRIVATE KEY-----\n")  # unencrypted
    assert load_public_key(path.with_name(path.name + ".pub")) is not None
    before = path.read_bytes()

    again, again_path = ensure_dev_key()
    assert again_path == path
    assert keyid_of(again.public_key()) == keyid_of(key.public_key())
    assert path.read_bytes() == before
    assert _mode(path) == 0o600


def test_dev_key_in_an_existing_config_dir_keeps_its_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "cfg"
    config.mkdir(mode=0o755)
    os.chmod(config, 0o755)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    _, path = ensure_dev_key()
    assert _mode(config) == 0o755  # not ours to change
    assert _mode(path.parent) == 0o700


def test_tracked_check_matches_file_names_literally(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    (repo / ".gitignore").write_text("*.pem\n")
    (repo / "kx.pem").write_text("tracked neighbour\n")
    _git(repo, "add", "-f", "kx.pem")
    pair = generate_keypair(repo / "k?.pem", repo_root=repo)
    # `k?.pem` as a glob would match the tracked `kx.pem`; as a name it is untracked.
    load_private_key(pair.private_path, repo_root=repo)


def test_generate_inside_repo_root_without_git_installed_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = _repo(tmp_path)
    (repo / ".gitignore").write_text("*.pem\n")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(InputError, match="is inside the repository"):
        generate_keypair(repo / "k.pem", repo_root=repo)


def test_generate_creates_missing_parents_0700(tmp_path: Path) -> None:
    pair = generate_keypair(tmp_path / "a" / "b" / "k.pem")
    assert _mode(tmp_path / "a") == 0o700
    assert _mode(tmp_path / "a" / "b") == 0o700
    assert _mode(pair.private_path) == 0o600


def test_generate_where_a_file_is_in_the_way(tmp_path: Path) -> None:
    # A file where the parent directory should be: unwritable even for root.
    (tmp_path / "file").write_text("")
    with pytest.raises(InputError) as info:
        generate_keypair(tmp_path / "file" / "k.pem")
    assert _message(info) == f"cannot write `{tmp_path / 'file' / 'k.pem'}`: not a directory"


def test_dev_key_replaces_a_stale_public_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    _, path = ensure_dev_key()
    path.unlink()  # the private half is lost; the old .pub stays behind
    key, _ = ensure_dev_key()
    assert keyid_of(load_public_key(path.with_name(path.name + ".pub"))) == keyid_of(
        key.public_key()
    )


def test_dev_key_that_is_unreadable_is_an_input_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    dev_key_path().parent.mkdir(parents=True)
    dev_key_path().write_text("garbage\n")
    with pytest.raises(InputError, match="is not a PEM private key"):
        ensure_dev_key()

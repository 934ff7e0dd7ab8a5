"""Ed25519 signing keys: generation, loading, key ids and the development key.

Private keys are PKCS#8 PEM (optionally passphrase-encrypted) with mode 0600
and never live among a repository's tracked files (SPEC §6); public keys are
SubjectPublicKeyInfo PEM beside them as `PATH.pub`. A key id is the hex sha256
of the raw 32-byte public key, so it names the key, not its file or encoding.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from mu.generator.errors import InputError
from mu.generator.gitexec import git

PASSPHRASE_ENV = "MU_KEY_PASSPHRASE"
_KEYGEN_HINT = "create an Ed25519 key pair with `mu keygen --out PATH`"
_OUTSIDE_HINT = (
    "keep private keys outside the repository (a directory holding `ontology/`, `golden/` "
    "or `receipts/` is one), for example under `~/.config/mu/`, or git-ignore the path"
)
_WRITABLE_HINT = "choose a path in a directory you can write to"
_DEV_KEY_HINT = "set `XDG_CONFIG_HOME` to a writable directory, or pass `--sign-key`"
_GIT_TIMEOUT_SECONDS = 30


def keyid_of(public_key: Ed25519PublicKey) -> str:
    """The key id: hex sha256 of the raw 32-byte Ed25519 public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True)
class KeyPair:
    """Where a newly generated key pair was written, its key id, and whether it is encrypted."""

    private_path: Path
    public_path: Path
    keyid: str
    encrypted: bool = False

    @property
    def warning(self) -> str:
        """What a user must be told about the private key ("" when nothing)."""
        if self.encrypted:
            return ""
        return (
            f"the private key `{self.private_path}` is NOT encrypted: anyone who can read "
            f"it can sign; set `{PASSPHRASE_ENV}` (or pass `--passphrase-env VAR`) to encrypt it"
        )


def public_path_of(private_path: Path) -> Path:
    """The public key file that goes with `private_path`: the same path plus `.pub`."""
    return private_path.with_name(private_path.name + ".pub")


def public_pem(public_key: Ed25519PublicKey) -> str:
    """`public_key` as SubjectPublicKeyInfo PEM text (ends with a newline)."""
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def keygen_passphrase(passphrase_env: str | None = None) -> bytes | None:
    """The passphrase `mu keygen` encrypts with: from `passphrase_env`, else `MU_KEY_PASSPHRASE`.

    None (write the key unencrypted) only when neither is set. A variable that
    is named or set but empty is an error, never a silent unencrypted key.
    """
    name = passphrase_env or PASSPHRASE_ENV
    value = os.environ.get(name)
    if value is None and not passphrase_env:
        return None
    if not value:
        raise InputError(
            f"environment variable `{name}` is empty or unset",
            hint=f"export `{name}` with a non-empty passphrase"
            + ("" if passphrase_env else ", or unset it to write an unencrypted key"),
        )
    return value.encode("utf-8")


def refuse_loose_private_key(path: Path) -> None:
    """Refuse to sign with a private key file that group or others may read or write.

    Checked on the file's mode, not on access, so it holds for root too: a key
    others can read may already be copied, one others can write may be swapped.
    """
    try:
        info = path.stat()
    except OSError:
        return  # missing or unreadable: `load_private_key` names that problem
    mode = stat.S_IMODE(info.st_mode)
    if os.name == "posix" and stat.S_ISREG(info.st_mode) and mode & 0o077:
        raise InputError(
            f"private key `{path}` is readable or writable by group or others "
            f"(mode {mode:04o}); refusing to sign with it",
            hint=f"chmod 600 {shlex.quote(str(path))}",
        )


def generate_keypair(
    out: Path, passphrase: bytes | None = None, *, repo_root: Path | None = None
) -> KeyPair:
    """Generate an Ed25519 key pair: `out` (private, PKCS#8 PEM, 0600) and `out.pub`.

    The private key is encrypted when `passphrase` is given. Refuses to
    overwrite either file, and, when `repo_root` is given, refuses a private
    key path inside it unless git ignores that path.
    """
    public_path = public_path_of(out)
    for path in (out, public_path):
        try:
            present = path.exists() or path.is_symlink()
        except OSError as exc:  # e.g. a directory on the way that we may not search
            raise _cannot_write(path, exc) from None
        if present:
            raise InputError(
                f"`{path}` already exists; refusing to overwrite a key",
                hint="choose another `--out` path, or move the old key away first",
            )
    if repo_root is not None:
        _refuse_inside_repository(out, repo_root)
    if passphrase is not None and not passphrase:
        raise InputError(
            "the passphrase is empty",
            hint=f"set `{PASSPHRASE_ENV}` to a non-empty passphrase, or unset it",
        )
    key = Ed25519PrivateKey.generate()
    try:
        _make_private_dirs(out.parent)
        _write_private_key(out, key, passphrase)
    except FileExistsError:
        # Created by someone else between the check above and now.
        raise InputError(
            f"`{out}` already exists; refusing to overwrite a key",
            hint="choose another `--out` path, or move the old key away first",
        ) from None
    except OSError as exc:
        raise _cannot_write(out, exc) from None
    try:
        _write_new(public_path, public_pem(key.public_key()).encode("ascii"), 0o644)
    except BaseException as exc:
        # Half a key pair is worse than none: the next attempt would refuse to
        # overwrite the private key whose public half was never written.
        out.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _cannot_write(public_path, exc) from None
        raise
    return KeyPair(
        private_path=out,
        public_path=public_path,
        keyid=keyid_of(key.public_key()),
        encrypted=passphrase is not None,
    )


def load_private_key(
    path: Path, passphrase: bytes | None = None, *, repo_root: Path | None = None
) -> Ed25519PrivateKey:
    """Load an Ed25519 private key from PKCS#8 (or traditional) PEM at `path`.

    Raises `InputError` when the file is missing or unreadable, is not a PEM
    private key, needs a passphrase that was not given or was wrong, is not
    Ed25519, or (with `repo_root`) is tracked by git in that repository.
    """
    if not path.exists():
        raise InputError(f"private key `{path}` does not exist", hint=_KEYGEN_HINT)
    if repo_root is not None and _tracked_by_git(path, repo_root):
        raise InputError(
            f"private key `{path}` is tracked by git in `{repo_root}`",
            hint="treat the key as leaked: generate a new one outside the repository, "
            "remove this one from git and revoke it in `receipts/trust.json`",
        )
    data = _read(path, "private key")
    encrypted = b"ENCRYPTED" in data
    try:
        key = serialization.load_pem_private_key(data, passphrase)
    except TypeError:
        # cryptography says TypeError exactly when a passphrase is missing or superfluous.
        if encrypted:
            raise InputError(
                f"the key is encrypted: set `{PASSPHRASE_ENV}` to unlock `{path}`",
                hint=f"export `{PASSPHRASE_ENV}` with the passphrase chosen at `mu keygen`",
            ) from None
        raise InputError(
            f"a passphrase was given but private key `{path}` is not encrypted",
            hint=f"unset `{PASSPHRASE_ENV}`",
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        if encrypted and passphrase is not None:
            raise InputError(
                f"wrong passphrase for private key `{path}`",
                hint=f"set `{PASSPHRASE_ENV}` to the passphrase chosen at `mu keygen`",
            ) from None
        raise InputError(
            f"`{path}` is not a PEM private key",
            hint=_public_instead_hint(data) or _KEYGEN_HINT,
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(
            f"`{path}` holds {_key_kind(key)} key, not an Ed25519 key",
            hint=f"mu signs only with Ed25519; {_KEYGEN_HINT}",
        )
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """Load an Ed25519 public key from SubjectPublicKeyInfo PEM at `path`."""
    if not path.exists():
        raise InputError(
            f"public key `{path}` does not exist",
            hint="pass the `.pub` file written beside the private key by `mu keygen`",
        )
    data = _read(path, "public key")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        hint = "pass the `.pub` file written beside the private key by `mu keygen`"
        if b"PRIVATE KEY" in data:
            hint = "this is a private key: never share it; " + hint
        raise InputError(f"`{path}` is not a PEM public key", hint=hint) from None
    if not isinstance(key, Ed25519PublicKey):
        raise InputError(
            f"`{path}` holds {_key_kind(key)} key, not an Ed25519 key",
            hint=f"mu verifies only Ed25519 signatures; {_KEYGEN_HINT}",
        )
    return key


def dev_key_path() -> Path:
    """Where the local development key lives: `$XDG_CONFIG_HOME/mu/dev-signing-key.pem`.

    Falls back to `~/.config` when `XDG_CONFIG_HOME` is unset, empty or relative,
    as the XDG base directory specification asks.
    """
    config = os.environ.get("XDG_CONFIG_HOME", "")
    base = Path(config) if config and Path(config).is_absolute() else Path.home() / ".config"
    return base / "mu" / "dev-signing-key.pem"


def ensure_dev_key() -> tuple[Ed25519PrivateKey, Path]:
    """The development signing key and its path, created (unencrypted, 0600) on first use.

    This key lets a newcomer run `mu build` without any setup; it is never
    trusted by default, so its receipts do not verify until someone trusts it.
    """
    path = dev_key_path()
    if path.exists():
        return load_private_key(path), path
    key = Ed25519PrivateKey.generate()
    public_path = public_path_of(path)
    try:
        _make_private_dirs(path.parent)
        _write_private_key(path, key, None)
    except FileExistsError:
        # Another mu process created it first: use that one, so both agree.
        return load_private_key(path), path
    except OSError as exc:
        raise _cannot_write(path, exc, _DEV_KEY_HINT) from None
    try:
        # A `.pub` left from an earlier, deleted dev key would name the wrong key.
        public_path.unlink(missing_ok=True)
        _write_new(public_path, public_pem(key.public_key()).encode("ascii"), 0o644)
    except OSError as exc:
        raise _cannot_write(public_path, exc, _DEV_KEY_HINT) from None
    return key, path


def _write_private_key(path: Path, key: Ed25519PrivateKey, passphrase: bytes | None) -> None:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    _write_new(path, pem, 0o600)


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create `path` with `mode` from its first instant; FileExistsError if it exists.

    O_EXCL makes creation and the existence check one step (and refuses a
    symlink planted at `path`); passing the mode to open means the private key
    is never, even briefly, readable by others, as writing then chmod would be.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _make_private_dirs(directory: Path) -> None:
    # Path.mkdir(parents=True) gives the intermediate directories the default
    # mode; each directory we create on the way to a key is made 0700.
    missing: list[Path] = []
    current = directory
    while not current.exists():
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            continue


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(
            f"cannot read {what} `{path}`: {(exc.strerror or str(exc)).lower()}",
            hint="check that the path names a readable file",
        ) from None


def _cannot_write(path: Path, exc: OSError, hint: str = _WRITABLE_HINT) -> InputError:
    return InputError(f"cannot write `{path}`: {(exc.strerror or str(exc)).lower()}", hint=hint)


def _public_instead_hint(data: bytes) -> str:
    if b"PUBLIC KEY" in data:
        return "this is a public key: pass the private key (the path without `.pub`)"
    return ""


def _key_kind(key: object) -> str:
    kinds: tuple[tuple[tuple[type, ...], str], ...] = (
        ((rsa.RSAPrivateKey, rsa.RSAPublicKey), "an RSA"),
        ((ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey), "an EC"),
        ((dsa.DSAPrivateKey, dsa.DSAPublicKey), "a DSA"),
        ((ed448.Ed448PrivateKey, ed448.Ed448PublicKey), "an Ed448"),
    )
    for types, article in kinds:
        if isinstance(key, types):
            return article
    return "an unsupported"


def _git(repo_root: Path, *args: str) -> int | None:
    """Exit status of `git -C repo_root args`, or None when git cannot be run at all."""
    try:
        completed = git(repo_root, *args, timeout=_GIT_TIMEOUT_SECONDS, stdout=None)
    except (OSError, subprocess.SubprocessError):
        return None
    return completed.returncode


def _inside(path: Path, root: Path) -> str | None:
    """`path` relative to `root` (POSIX) when it lies inside it, else None."""
    # resolve() follows symlinks, so a link from outside into the repository
    # (or the reverse) is judged by where the bytes actually are.
    resolved_path = path.resolve()
    resolved_root = root.resolve()
    if resolved_path == resolved_root or not resolved_path.is_relative_to(resolved_root):
        return None
    return resolved_path.relative_to(resolved_root).as_posix()


def _is_git_work_tree(repo_root: Path) -> bool:
    return _git(repo_root, "rev-parse", "--is-inside-work-tree") == 0


def _tracked_by_git(path: Path, repo_root: Path) -> bool:
    # A missing git or a directory that is not a repository means nothing is
    # tracked: the check protects against committing keys, it is not a gate.
    relative = _inside(path, repo_root)
    return relative is not None and _in_index(repo_root, relative)


def _in_index(repo_root: Path, relative: str) -> bool:
    # `:(literal)` stops a file name holding `*` or `?` from matching other files.
    return _git(repo_root, "ls-files", "--error-unmatch", "--", f":(literal){relative}") == 0


def _refuse_inside_repository(out: Path, repo_root: Path) -> None:
    relative = _inside(out, repo_root)
    if relative is None:
        return
    if not _is_git_work_tree(repo_root):
        # Without git we cannot tell whether the path would be committed, so
        # the only safe answer for a private key inside the repository is no.
        raise InputError(f"`{out}` is inside the repository `{repo_root}`", hint=_OUTSIDE_HINT)
    if _in_index(repo_root, relative):
        raise InputError(f"`{out}` is tracked by git in `{repo_root}`", hint=_OUTSIDE_HINT)
    # Tracked files were refused above, so `--no-index` loses nothing, and it
    # keeps check-ignore from reading the name as a glob over the index.
    # Exit 0 means ignored; 1 (not ignored) and 128 (git failed) both refuse,
    # so an error can never let a key into the repository.
    if _git(repo_root, "check-ignore", "-q", "--no-index", "--", relative) != 0:
        raise InputError(
            f"`{out}` is inside the repository `{repo_root}` and not ignored by git, "
            "so the private key could be committed",
            hint=_OUTSIDE_HINT,
        )

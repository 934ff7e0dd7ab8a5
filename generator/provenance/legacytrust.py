"""The unsigned trust policy of mu before trust roots, read only to migrate it.

Older repositories kept `receipts/trust.json` as a plain list of keys and
roles. `mu trust migrate` reads it here, strictly, reporting every problem at
once, and turns it into version 1 of a signed trust root (`trustedit.py`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from mu.generator.errors import InputError, Location, Problem
from mu.generator.foreign import read_bounded
from mu.generator.jsonread import DuplicateKey, loads_strict
from mu.generator.jsonshape import preview
from mu.generator.provenance.keys import keyid_of, public_pem

ROLES = ("release", "compliance", "auditor")
MAX_TRUST_BYTES = 16 * 1024 * 1024
VERSION = 1

_KEY_FIELDS = frozenset({"keyid", "name", "roles", "public_key"})
_FILE_FIELDS = frozenset({"version", "keys"})
_ADD_HINT = "fix the entry by hand, or remove it and add the key again with `mu trust add`"


@dataclass(frozen=True)
class TrustedKey:
    """One trusted public key: its id, a human name, and the roles it may sign in."""

    keyid: str
    name: str
    roles: tuple[str, ...]
    public_key_pem: str

    def public_key(self) -> Ed25519PublicKey:
        """The Ed25519 public key this entry trusts."""
        key = serialization.load_pem_public_key(self.public_key_pem.encode("ascii"))
        if not isinstance(key, Ed25519PublicKey):  # load_trust admits only Ed25519
            raise TypeError(f"trusted key `{self.keyid}` is not Ed25519")
        return key

    def to_dict(self) -> dict[str, Any]:
        """The entry as it is written in `trust.json`."""
        return {
            "keyid": self.keyid,
            "name": self.name,
            "roles": list(self.roles),
            "public_key": self.public_key_pem,
        }


@dataclass(frozen=True)
class TrustPolicy:
    """Every trusted key, sorted by keyid."""

    keys: tuple[TrustedKey, ...]

    def keys_for(self, role: str) -> dict[str, Ed25519PublicKey]:
        """keyid → public key of every key trusted in `role`."""
        _check_role(role)
        return {k.keyid: k.public_key() for k in self.keys if role in k.roles}

    def find(self, keyid: str) -> TrustedKey | None:
        """The entry for `keyid`, or None when that key is not trusted at all."""
        return next((k for k in self.keys if k.keyid == keyid), None)

    def to_json(self) -> bytes:
        """The trust file: pretty JSON, sorted keys, entries by keyid, trailing newline."""
        document = {
            "version": VERSION,
            "keys": [k.to_dict() for k in sorted(self.keys, key=lambda k: k.keyid)],
        }
        text = json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False)
        return (text + "\n").encode("utf-8")


def load_trust(path: Path) -> TrustPolicy:
    """The trust policy in `path`; an empty policy when the file does not exist.

    Raises `InputError` listing every problem of a malformed file: bad JSON, a
    wrong version, a malformed entry, a keyid that does not match its public
    key, an unknown role, a duplicate keyid.
    """
    if not path.exists():
        return TrustPolicy(keys=())
    # Foreign input: only a regular file, not a link, and bounded (a FIFO or
    # `/dev/zero` committed as `receipts/trust.json` must not hang mu).
    data = read_bounded(path, what="trust policy", limit=MAX_TRUST_BYTES, follow_links=False)
    document = _parse(data, path)
    problems: list[Problem] = []
    keys: dict[str, TrustedKey] = {}
    for index, entry in enumerate(document["keys"]):
        where = f"{path}: keys[{index}]"
        trusted = _entry(entry, where, problems)
        if trusted is None:
            continue
        if trusted.keyid in keys:
            problems.append(
                Problem(where, f"duplicate keyid `{trusted.keyid}`", "merge the two entries")
            )
            continue
        keys[trusted.keyid] = trusted
    if problems:
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        raise InputError(
            f"trust policy `{path}` is malformed ({count}): "
            f"{problems[0].where.removeprefix(f'{path}: ')} {problems[0].message}",
            hint=problems[0].hint or _ADD_HINT,
            problems=problems,
        )
    return TrustPolicy(keys=tuple(keys[k] for k in sorted(keys)))


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InputError(
            f"unknown role `{role}`",
            hint="use one of " + ", ".join(f"`{r}`" for r in ROLES),
        )


def _parse(data: bytes, path: Path) -> dict[str, Any]:
    hint = "fix the JSON by hand before `mu trust migrate` reads it"
    try:
        document = loads_strict(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"trust policy `{path}` is not UTF-8", hint=hint) from None
    except DuplicateKey as exc:
        # json.loads would keep the last of two equal keys: an entry a reviewer
        # reads as `"roles": ["auditor"]` could be trusted for release.
        raise InputError(
            f"trust policy `{path}` repeats the field `{preview(exc.key, 64)}`", hint=hint
        ) from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"trust policy `{path}` is not valid JSON: {_lower_first(exc.msg)} "
            f"at line {exc.lineno} column {exc.colno}",
            hint=hint,
            location=Location.of_parse_error(str(path), exc),
        ) from None
    if not isinstance(document, dict):
        raise InputError(f"trust policy `{path}` is not a JSON object", hint=hint)
    version = document.get("version")
    # bool is an int in Python; `true` must not pass for version 1.
    if type(version) is not int or version != VERSION:
        raise InputError(
            f"trust policy `{path}` has version `{json.dumps(version)}`, expected `{VERSION}`",
            hint="this mu reads trust policy version 1; upgrade mu or fix the file",
        )
    extra = sorted(document.keys() - _FILE_FIELDS)
    if extra:
        raise InputError(
            f"trust policy `{path}` has unexpected field "
            + ", ".join(f"`{name}`" for name in extra),
            hint="a trust policy holds only `version` and `keys`",
        )
    if not isinstance(document.get("keys"), list):
        raise InputError(f"trust policy `{path}` has no `keys` list", hint=hint)
    return document


def _entry(entry: object, where: str, problems: list[Problem]) -> TrustedKey | None:
    """One entry of `keys`, or None after recording why it is unusable."""
    if not isinstance(entry, dict):
        problems.append(Problem(where, "is not an object"))
        return None
    missing = sorted(_KEY_FIELDS - entry.keys())
    extra = sorted(entry.keys() - _KEY_FIELDS)
    if missing or extra:
        for name in missing:
            problems.append(Problem(where, f"has no `{name}` field"))
        for name in extra:
            problems.append(Problem(where, f"has unexpected field `{name}`"))
        return None
    keyid, name, roles, pem = entry["keyid"], entry["name"], entry["roles"], entry["public_key"]
    before = len(problems)
    for field, value in (("keyid", keyid), ("name", name), ("public_key", pem)):
        if not isinstance(value, str) or not value:
            problems.append(Problem(where, f"`{field}` is not a non-empty string"))
    if not isinstance(roles, list) or not roles or not all(isinstance(r, str) for r in roles):
        problems.append(Problem(where, "`roles` is not a non-empty list of strings"))
    elif len(set(roles)) != len(roles):
        problems.append(Problem(where, "`roles` lists a role twice"))
    else:
        for role in roles:
            if role not in ROLES:
                problems.append(
                    Problem(
                        where,
                        f"unknown role `{role}`",
                        "use one of " + ", ".join(f"`{r}`" for r in ROLES),
                    )
                )
    if len(problems) > before:
        return None
    public_key = _public_key(pem, where, problems)
    if public_key is None:
        return None
    actual = keyid_of(public_key)
    if actual != keyid:
        problems.append(
            Problem(
                where,
                f"keyid `{keyid}` does not match its public key (whose keyid is `{actual}`)",
                "the entry was edited: re-add the key with `mu trust add` and check who changed it",
            )
        )
        return None
    # Entries are normalised (canonical PEM, sorted roles) so that a policy read
    # and written back is byte-identical whatever spelling the file used.
    return TrustedKey(
        keyid=keyid, name=name, roles=tuple(sorted(roles)), public_key_pem=public_pem(public_key)
    )


def _public_key(pem: str, where: str, problems: list[Problem]) -> Ed25519PublicKey | None:
    try:
        key = serialization.load_pem_public_key(pem.encode("utf-8"))
    except (ValueError, UnsupportedAlgorithm):
        problems.append(Problem(where, "`public_key` is not a PEM public key"))
        return None
    if not isinstance(key, Ed25519PublicKey):
        problems.append(Problem(where, "`public_key` is not an Ed25519 key"))
        return None
    return key


def default_name(public_key_path: Path) -> str:
    """`keys/release.pem.pub` → `release`: the key file's name without key suffixes."""
    name = public_key_path.name
    for suffix in (".pub", ".pem"):
        name = name.removesuffix(suffix)
    return name or public_key_path.name

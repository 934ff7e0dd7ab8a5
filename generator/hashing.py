"""Digests and canonical JSON: the byte-level identity of everything mu records."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import rfc8785


def sha256_hex(data: bytes) -> str:
    """Hex sha256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def canonical_json(value: Any) -> bytes:
    """RFC 8785 (JCS) canonical JSON bytes of `value`.

    JCS fixes key order, number format and escaping, so the same value always
    serialises to the same bytes in any process — the basis of every digest.
    """
    return bytes(rfc8785.dumps(value))


def digest_json(value: Any) -> str:
    """Hex sha256 of the canonical JSON of `value`."""
    return sha256_hex(canonical_json(value))


def tree_digest(files: Mapping[str, bytes]) -> str:
    """One digest for a tree of files: sha256 over the sorted (path, sha256) list."""
    return digest_json([[path, sha256_hex(files[path])] for path in sorted(files)])

"""What every statement says about where and when it was made (SPEC §6, §9).

Each statement mu signs names the repository it belongs to and the version
of the trust root it was made under (`repository`, `trust_root`), so a
statement from another repository, or one signed by a key its version does not
hold, fails. It may also carry `signedAt`, the signer's claimed time: a
recorded claim, carried over by replay, never regenerated.

Statements made before trust roots lack these fields; they verify only when
version 1 adopted them by digest (`mu trust migrate`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mu.generator.jsonshape import Hex64, Integer, Text, Timestamp, record

# SOURCE_DATE_EPOCH (reproducible-builds.org) fixes the claimed time, so a
# build can be repeated byte for byte; otherwise the claim is the clock's.
EPOCH_ENV = "SOURCE_DATE_EPOCH"

TRUST_REF = record(("version", Integer(minimum=1)), ("digest", Hex64()))
# The fields of `MadeUnder`, spliced into each kind's predicate record.
MADE_UNDER_FIELDS = (
    ("repository", Text()),
    ("trust_root", TRUST_REF),
    ("signedAt", Timestamp()),
)
MADE_UNDER_NAMES = tuple(name for name, _ in MADE_UNDER_FIELDS)


@dataclass(frozen=True)
class TrustRef:
    """The trust-root version a statement was made under: its number and statement digest."""

    version: int
    digest: str

    def to_dict(self) -> dict[str, Any]:
        """As recorded in a statement."""
        return {"version": self.version, "digest": self.digest}


@dataclass(frozen=True)
class MadeUnder:
    """The repository, trust-root version and claimed signing time of one statement."""

    repository: str
    trust_root: TrustRef
    signed_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The fields as they sit in a predicate (`signedAt` left out when not claimed)."""
        out: dict[str, Any] = {
            "repository": self.repository,
            "trust_root": self.trust_root.to_dict(),
        }
        if self.signed_at is not None:
            out["signedAt"] = self.signed_at
        return out

    @classmethod
    def from_predicate(cls, predicate: Mapping[str, Any]) -> MadeUnder | None:
        """The claims of a structurally checked predicate; None for a statement made before
        trust roots (no `repository`)."""
        repository, ref = predicate.get("repository"), predicate.get("trust_root")
        if not isinstance(repository, str) or not isinstance(ref, dict):
            return None
        signed_at = predicate.get("signedAt")
        return cls(
            repository,
            TrustRef(ref["version"], ref["digest"]),
            signed_at if isinstance(signed_at, str) else None,
        )


def signed_at_now() -> str:
    """The signing-time claim: `SOURCE_DATE_EPOCH` when set to an integer, else now (UTC)."""
    epoch = os.environ.get(EPOCH_ENV, "").strip()
    moment = (
        datetime.fromtimestamp(int(epoch), UTC)
        if epoch.isdigit() and len(epoch) <= 12
        else datetime.now(UTC)
    )
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

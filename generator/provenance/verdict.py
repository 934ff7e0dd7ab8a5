"""One named check and its verdict: the row every report of mu is made of.

A build gate (`ontology`, `golden`, ...), a check of `mu verify-receipt`
(`signature`, `chain`, ...) and a comparison of `mu replay` (`payload`, a
subject file) are the same thing: a name, PASS or FAIL, and a line of detail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args

Status = Literal["PASS", "FAIL"]
STATUSES: Final[tuple[Status, ...]] = get_args(Status)


@dataclass(frozen=True)
class Check:
    """One named check: what was checked, PASS or FAIL, and a line of detail."""

    name: str
    status: Status
    detail: str

    @classmethod
    def of(cls, name: str, ok: bool, detail: str) -> Check:
        """A check that passed when `ok`, else failed."""
        return cls(name, "PASS" if ok else "FAIL", detail)

    @property
    def ok(self) -> bool:
        """True when the check passed."""
        return self.status == "PASS"

"""Every version of the trust root, verified from a pinned one (SPEC §9).

`receipts/trust/<N>.json` keeps every version; `receipts/trust.json` is a copy
of the newest. Verification walks forward as TUF's client does: the pinned
version is trusted as given (version 1, checked against its own root quorum,
when nothing is pinned), and each later version must be signed by a quorum of
the previous version's root identities and of its own, name the previous
version's digest and the same repository. A statement is then checked
against the version it names, which must be one of these.

Without a pin, mu trusts the repository's own version 1 and says so: whoever
can commit can replace `receipts/trust/` wholesale, so an auditor pins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mu.generator.errors import CheckFailed, InputError, Problem
from mu.generator.foreign import read_bounded
from mu.generator.jsonread import loads_strict
from mu.generator.layout import Layout
from mu.generator.provenance.dsse import (
    MAX_ENVELOPE_BYTES,
    PAYLOAD_TYPE,
    Envelope,
    read_envelope_file,
)
from mu.generator.provenance.statement import STATEMENT_TYPE
from mu.generator.provenance.trustroot import (
    HINT,
    TRUST_ROOT_TYPE,
    RootMetadata,
    RootVersion,
    quorum,
    version_digest,
)

VERSION_NAME = re.compile(r"^([1-9][0-9]{0,8})\.json\Z")
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")
INIT_HINT = (
    "create one with `mu trust init --root-key KEY --repository ID` "
    "(a repository with an unsigned `receipts/trust.json`: `mu trust migrate`)"
)


class NoTrustRoot(CheckFailed):
    """The repository has no signed trust root: nothing it holds can be trusted."""


@dataclass(frozen=True)
class TrustHistory:
    """The verified versions of one repository's trust root, oldest first, and the pin."""

    versions: tuple[RootVersion, ...]
    pinned: bool  # False: the repository's own version 1 was trusted as given

    @property
    def newest(self) -> RootVersion:
        """The newest verified version."""
        return self.versions[-1]

    @property
    def first(self) -> RootVersion:
        """The pinned version (or version 1, unpinned): where verification started."""
        return self.versions[0]

    @property
    def repository(self) -> str:
        """The repository id every statement must name."""
        return self.newest.metadata.repository

    def version(self, number: int) -> RootVersion | None:
        """The verified version `number`, or None (unknown, or older than the pin)."""
        return next((v for v in self.versions if v.version == number), None)

    def unverified(self, number: int, *, older: str, unknown: str) -> str:
        """Why version `number`, which `version` does not return, is not checked.

        `older` when it precedes the pinned version, else `unknown`: templates
        formatted with `number`, `pinned` (the pinned version) and `newest`.
        """
        template = older if number < self.first.version else unknown
        return template.format(number=number, pinned=self.first.version, newest=self.newest.version)

    def in_effect_for(self, sequence: int) -> RootVersion | None:
        """The version a receipt with this sequence must be made under (None: before the pin)."""
        found = None
        for v in self.versions:
            if v.metadata.effective_after < sequence:
                found = v
        return found

    @property
    def warning(self) -> str | None:
        """What an unpinned check must say loudly, or None when pinned."""
        if self.pinned:
            return None
        first = self.first
        return (
            f"trusting this repository's own trust root (version {first.version}, "
            f"sha256 {first.digest[:12]}…): anyone who can commit could have replaced it; "
            f"an auditor pins it with `--trust-root {first.digest}`"
        )


def read_version_file(path: Path) -> RootVersion:
    """One stored version, read strictly; `CheckFailed` when it is not a trust-root statement."""
    envelope = read_envelope_file(path, "trust root")
    return parse_version(envelope, path)


def parse_version(envelope: Envelope, path: Path) -> RootVersion:
    """The version an envelope holds; `CheckFailed` naming what is wrong with it."""
    source = path.name if path.parent.name == "trust" else str(path)
    if envelope.payload_type != PAYLOAD_TYPE:
        raise CheckFailed(f"trust root `{source}` is not an in-toto envelope", hint=HINT)
    try:
        statement = loads_strict(envelope.payload)
    except (ValueError, RecursionError, UnicodeDecodeError) as exc:
        raise CheckFailed(
            f"trust root `{source}` has a payload that is not JSON: {str(exc)[:120]}", hint=HINT
        ) from None
    if (
        not isinstance(statement, dict)
        or statement.get("_type") != STATEMENT_TYPE
        or statement.get("predicateType") != TRUST_ROOT_TYPE
    ):
        raise CheckFailed(f"`{source}` is not a `{TRUST_ROOT_TYPE}` statement", hint=HINT)
    metadata = RootMetadata.from_dict(statement.get("predicate"), source)
    if metadata.statement() != envelope.payload:
        raise CheckFailed(
            f"trust root `{source}` is not in mu's canonical form "
            "(its subject or encoding differs from what mu signs)",
            hint=HINT,
        )
    return RootVersion(metadata, envelope, version_digest(envelope), path)


def version_paths(layout: Layout) -> dict[int, Path]:
    """Stored version number → file, from `receipts/trust/`."""
    directory = layout.trust_dir
    if not directory.is_dir():
        return {}
    found = {}
    for path in directory.iterdir():
        match = VERSION_NAME.match(path.name)
        if match:
            found[int(match.group(1))] = path
    return dict(sorted(found.items()))


def _signed_by_quorums(current: RootVersion, previous: RootVersion | None) -> list[Problem]:
    """Whether `current` carries its own root quorum and (from version 2) the previous one's."""
    problems = []
    own = quorum(current.envelope, current.metadata, "root")
    if not own.ok:
        problems.append(
            Problem(
                f"trust root version {current.version}",
                f"lacks its own root quorum: {own.describe(current.metadata)}",
            )
        )
    if previous is not None:
        prior = quorum(current.envelope, previous.metadata, "root")
        if not prior.ok:
            problems.append(
                Problem(
                    f"trust root version {current.version}",
                    f"lacks the root quorum of version {previous.version}: "
                    f"{prior.describe(previous.metadata)}",
                )
            )
    return problems


def _links(current: RootVersion, previous: RootVersion) -> list[Problem]:
    where = f"trust root version {current.version}"
    m, p = current.metadata, previous.metadata
    problems = []
    if m.previous != previous.digest:
        problems.append(Problem(where, f"does not name version {p.version} as its previous"))
    if m.repository != p.repository:
        problems.append(Problem(where, f"names repository `{m.repository}`, not `{p.repository}`"))
    if m.effective_after < p.effective_after:
        problems.append(Problem(where, "takes effect before the version it replaces"))
    return problems


def _pinned_start(layout: Layout, pin: str, stored: dict[int, RootVersion]) -> RootVersion:
    """The stored version the pin names; `CheckFailed` when the repository does not hold it."""
    if _HEX64.match(pin):
        found = next((v for v in stored.values() if v.digest == pin), None)
        if found is None:
            raise CheckFailed(
                f"the pinned trust root (sha256 {pin[:12]}…) is not a version of this "
                "repository's trust root",
                hint="the repository's trust root was replaced, or the pin is for another "
                "repository: compare `mu trust list` with the pin you were given",
            )
        return found
    path = Path(pin)
    if not path.is_file():
        raise InputError(
            f"`--trust-root {pin}` is neither a sha256 nor a trust-root file",
            hint="pass the sha256 of a trust-root version, or a copy of its file",
        )
    given = read_version_file(path)
    mine = stored.get(given.version)
    if mine is None or mine.digest != given.digest:
        raise CheckFailed(
            f"this repository's trust root version {given.version} is not the pinned one "
            f"(pinned sha256 {given.digest[:12]}…"
            + (f", repository holds {mine.digest[:12]}…)" if mine else ", repository has none)"),
            hint="the repository's trust root was replaced after you pinned it: "
            "trust nothing it signs until compliance explains the change",
        )
    return mine


def load_history(layout: Layout, pin: str | None = None) -> TrustHistory:
    """Every version from the pinned one (version 1 when unpinned) to the newest, verified.

    `pin` is a version's statement digest or the path of a copy of its file.
    Raises `NoTrustRoot` when the repository has none, `CheckFailed` naming
    every problem when a version does not verify.
    """
    paths = version_paths(layout)
    if not paths:
        legacy = _legacy_trust_file(layout)
        raise NoTrustRoot(
            f"this repository has {'only an unsigned' if legacy else 'no'} trust root"
            + (" (`receipts/trust.json` of an older mu)" if legacy else ""),
            hint=INIT_HINT,
        )
    stored = {n: read_version_file(p) for n, p in paths.items()}
    problems = [
        Problem(f"`{p.name}`", f"holds version {stored[n].version}")
        for n, p in paths.items()
        if stored[n].version != n
    ]
    missing = [n for n in range(1, max(paths) + 1) if n not in paths]
    problems += [Problem(f"`receipts/trust/{n}.json`", "is missing") for n in missing]
    if problems:
        raise _failed(problems)
    start = _pinned_start(layout, pin, stored) if pin else stored[1]
    problems = _signed_by_quorums(start, None) if start.version == 1 else []
    chain = [start]
    for number in range(start.version + 1, max(stored) + 1):
        current, previous = stored[number], chain[-1]
        problems += _signed_by_quorums(current, previous) + _links(current, previous)
        chain.append(current)
    problems += _newest_copy(layout, chain[-1])
    if problems:
        raise _failed(problems)
    return TrustHistory(tuple(chain), pinned=pin is not None)


def _newest_copy(layout: Layout, newest: RootVersion) -> list[Problem]:
    path = layout.trust_file
    if not path.exists() and not path.is_symlink():
        return []
    try:
        envelope = read_envelope_file(path, "trust root")
    except InputError as exc:
        return [Problem("`receipts/trust.json`", exc.message)]
    if envelope.to_json() != newest.envelope.to_json():
        return [
            Problem(
                "`receipts/trust.json`",
                f"is not a copy of the newest version (`{newest.path.name}`)",
                "it was edited by hand: restore it with `cp receipts/trust/"
                f"{newest.version}.json receipts/trust.json`, and ask who changed it",
            )
        ]
    return []


def _failed(problems: list[Problem]) -> CheckFailed:
    first = problems[0]
    return CheckFailed(
        f"the trust root does not verify: {first.where} {first.message}"
        + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""),
        hint=first.hint or HINT,
        problems=problems,
    )


def _legacy_trust_file(layout: Layout) -> bool:
    """Whether `receipts/trust.json` is the unsigned key list of mu before trust roots."""
    try:
        raw = read_bounded(
            layout.trust_file, what="trust file", limit=MAX_ENVELOPE_BYTES, follow_links=False
        )
        data = loads_strict(raw)
    except (InputError, OSError, ValueError, RecursionError):
        return False
    return isinstance(data, dict) and "keys" in data and "payload" not in data

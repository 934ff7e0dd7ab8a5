"""Where deployed releases live, how TARGET is switched to one, and how it is recorded.

The on-disk half of `mu deploy` (SPEC §7); `generator.operate.deploy` decides *what*
goes live, this module puts it there. Beside TARGET:

    TARGET -> TARGET.releases/0002-1a2b3c4d5e6f   a symlink, switched by one rename
    TARGET.releases/<NNNN>-<12 hex>/              one immutable tree per receipt
    TARGET.releases/adopted-<12 hex>/             a plain directory found at TARGET
    TARGET.releases/.lock                         held by one deploy or rollback at a time
    TARGET.releases/deployments.jsonl             one line per switch
    TARGET.deploy.json                            the current and the previous release,
                                                  and the trust root first deployed under

The switch is one `rename(2)` of a symlink, so a reader that resolves TARGET
once sees wholly the old or wholly the new release. The record is replaced
atomically and the journal only ever appended to.

The record remembers the trust-root version the target was first deployed
under (`trust_root`: its version and statement digest), and every later deploy
or switch-back verifies from that pin: trust on first use, so a trust root
replaced in the repository cannot deploy to an existing target.
"""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from mu.generator.errors import InputError, Location
from mu.generator.files import write_file_atomic
from mu.generator.hashing import tree_digest
from mu.generator.jsonread import DuplicateKey, loads_strict
from mu.generator.provenance.receipt import StoredReceipt

RECORD_FORMAT = "urn:mu:v1#Deployment"
Entry = dict[str, Any]  # one release in the record: release, path, receipt, digest, sequence, tree
Action = Literal["deploy", "rollback"]  # what switched TARGET, as recorded


def releases_dir(target: Path) -> Path:
    """`TARGET.releases/`, beside TARGET so that every rename stays on one file system."""
    return target.parent / f"{target.name}.releases"


def record_path(target: Path) -> Path:
    """`TARGET.deploy.json`."""
    return target.parent / f"{target.name}.deploy.json"


def release_name(receipt: StoredReceipt) -> str:
    """`<NNNN>-<12 hex of the statement digest>`, like the receipt's own file name."""
    return f"{receipt.sequence:04d}-{receipt.digest[:12]}"


def utc_now() -> str:
    """The current UTC time as recorded in a switch: `YYYY-MM-DDTHH:MM:SSZ`."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def same_path(a: Path, b: Path) -> bool:
    """Whether `a` and `b` name the same file once every symlink is resolved."""
    return os.path.realpath(a) == os.path.realpath(b)


def running_release(target: Path) -> Path | None:
    """The directory TARGET serves now: a symlink's release, a plain directory, or None."""
    if target.is_symlink():
        resolved = Path(os.path.realpath(target))
        return resolved if resolved.is_dir() else None
    if target.is_dir():
        return target
    if target.exists():
        raise InputError(f"`{target}` is not a directory", hint="pass the directory A runs from")
    return None


def switch(target: Path, release: Path, adopt_to: Path | None) -> None:
    """Point TARGET at `release` with one rename; move a plain directory to `adopt_to`."""
    link = target.parent / f".{target.name}.link-{uuid.uuid4().hex[:12]}"
    try:
        # Relative, so the whole deployment can be moved or mounted elsewhere.
        os.symlink(os.path.relpath(release, target.parent), link)
        if adopt_to is not None:
            # Once, from a plain copy: a reader may briefly find no TARGET, never a mixture.
            os.rename(target, adopt_to)
        try:
            os.replace(link, target)
        except OSError:
            if adopt_to is not None:
                os.rename(adopt_to, target)  # put the plain directory back where it ran
            raise
        fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(fd)  # the switch survives a crash once deploy returns
        finally:
            os.close(fd)
    except OSError as exc:
        raise InputError(
            f"cannot switch `{target}`: {exc.strerror or exc}",
            hint="check permissions beside the target; the running release is unchanged",
        ) from exc
    finally:
        if link.is_symlink():
            link.unlink()


@contextmanager
def locked(target: Path) -> Iterator[None]:
    """One deploy or rollback per target at a time, so records never interleave."""
    releases = releases_dir(target)
    try:
        releases.mkdir(parents=True, exist_ok=True)
        fd = os.open(releases / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise InputError(
            f"cannot write beside `{target}`: {exc.strerror or exc}",
            hint="the releases live in `TARGET.releases/`; check permissions",
        ) from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(
                f"another deploy to `{target}` is in progress", hint="wait for it, then retry"
            ) from None
        yield
    finally:
        os.close(fd)


def make_entry(path: Path, receipt: StoredReceipt | None, files: Mapping[str, bytes]) -> Entry:
    """The record entry for the release at `path` holding `files`; receipt None if unknown."""
    return {
        "release": path.name,
        "path": str(path),
        "receipt": os.path.abspath(receipt.path) if receipt else None,
        "digest": receipt.digest if receipt else None,
        "sequence": receipt.sequence if receipt else None,
        "tree": tree_digest(files),
    }


def read_record(target: Path) -> dict[str, Any] | None:
    """`TARGET.deploy.json`, or None before the first deploy."""
    path = record_path(Path(os.path.abspath(target)))
    try:
        data = loads_strict(path.read_bytes())
    except FileNotFoundError:
        return None
    except DuplicateKey as exc:  # json.loads would silently keep the last `current`
        raise InputError(
            f"deployment record `{path}` {exc}",
            hint="move the record aside and deploy a receipt again with `mu deploy`",
        ) from None
    except RecursionError:
        raise InputError(
            f"deployment record `{path}` is unreadable: it is nested too deeply",
            hint="move the record aside and deploy a receipt again with `mu deploy`",
        ) from None
    except (OSError, ValueError) as exc:
        raise InputError(
            f"deployment record `{path}` is unreadable: {exc}",
            hint="move the record aside and deploy a receipt again with `mu deploy`",
            location=Location.of_parse_error(str(path), exc),
        ) from exc
    if not isinstance(data, dict) or data.get("format") != RECORD_FORMAT:
        raise InputError(
            f"`{path}` is not a mu deployment record",
            hint="move it aside and deploy a receipt again with `mu deploy`",
        )
    return data


def running_entry(
    record: dict[str, Any] | None, running: Path | None, files: Mapping[str, bytes], at: Path | None
) -> Entry | None:
    """What runs now, as a record entry: the record's when it agrees, else receipt unknown."""
    if running is None:
        return None
    current = record.get("current") if record else None
    if isinstance(current, dict) and same_path(Path(str(current.get("path"))), running):
        return current
    return make_entry(at or running, None, files)


def recorded_pin(record: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The trust root the target was first deployed under (`{"version", "digest"}`), if any.

    A record written before trust roots has none: the next deploy pins one.
    """
    pin = record.get("trust_root") if record else None
    if (
        isinstance(pin, dict)
        and isinstance(pin.get("digest"), str)
        and isinstance(pin.get("version"), int)
    ):
        return {"version": pin["version"], "digest": pin["digest"]}
    return None


def write_record(
    target: Path,
    action: Action,
    current: Entry,
    previous: Entry | None,
    at: str,
    *,
    trust_root: Mapping[str, Any] | None = None,
    warnings: Sequence[str] = (),
) -> None:
    """Replace `TARGET.deploy.json` atomically, then append the switch to the journal.

    `trust_root` is the pin the target keeps (`recorded_pin`); `warnings` what the
    switch warned about (an older link of the chain went live).
    """
    path = record_path(target)
    doc: dict[str, Any] = {"format": RECORD_FORMAT, "action": action, "target": str(target)}
    doc |= {"time": at, "current": current, "previous": previous}
    doc |= {"trust_root": dict(trust_root) if trust_root else None, "warnings": list(warnings)}
    write_file_atomic(path, (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    line = {**current, "action": action, "time": at, "target": str(target)}
    line["previous"] = previous["release"] if previous else None
    line["warnings"] = list(warnings)
    with open(releases_dir(target) / "deployments.jsonl", "a", encoding="utf-8") as journal:
        journal.write(json.dumps(line, sort_keys=True) + "\n")
        journal.flush()
        os.fsync(journal.fileno())

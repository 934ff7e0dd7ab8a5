"""Reading files that someone else may have planted: bounded, regular, and never blocking.

Receipts, approvals and snapshots are foreign input in shared directories. A
FIFO in their place would block mu forever, `/dev/zero` would fill memory,
and a directory would make `open` fail in a way no one reported. Every such
read goes through `read_bounded`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from mu.generator.errors import InputError


def _reason(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()


def read_bounded(path: Path, *, what: str, limit: int, follow_links: bool = True) -> bytes:
    """The bytes of the regular file at `path`, at most `limit` of them, or `InputError`.

    `follow_links=False` refuses a symbolic link, for files inside mu's own
    directories, where a link could lend a file from anywhere on the machine.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC  # a FIFO must not wait for a writer
    if not follow_links:
        flags |= os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        reason = "it is a symbolic link" if path.is_symlink() else _reason(exc)
        raise InputError(
            f"cannot read {what} `{path}`: {reason}", hint=f"check the path of the {what}"
        ) from None
    # fstat before fdopen: fdopen itself refuses a directory with an OSError.
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise InputError(
            f"{what} `{path}` is not a regular file",
            hint=f"name the {what} file itself, not a directory, device or pipe",
        )
    with os.fdopen(fd, "rb") as handle:
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise InputError(
                f"cannot read {what} `{path}`: {_reason(exc)}",
                hint=f"check that the {what} is readable by the user running mu",
            ) from None
    if len(data) > limit:
        raise InputError(
            f"{what} `{path}` is larger than {limit // (1024 * 1024)} MiB",
            hint=f"this is not a {what} written by mu",
        )
    return data

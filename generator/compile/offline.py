"""No network while foreign input is evaluated.

mu validates ontologies it did not write: a pull request's shapes, or the
snapshot inside a receipt an attacker signed. pySHACL runs their SPARQL with
rdflib, and rdflib will fetch whatever a query names: `SERVICE <http://…>`
sends the query to that endpoint, `FROM <…>` and `LOAD <…>` download and parse
a graph. `generator.compile.shape_guard` refuses such queries before SHACL runs; this
module is the second line of defence, for whatever that static check misses
(a pySHACL or rdflib feature nobody thought of, text pasted into a query).

While `offline()` is active in the current context:

- a process-wide audit hook (PEP 578) refuses every audited network operation
  (`socket.connect`, `socket.getaddrinfo`, `urllib.Request`, …) and every
  attempt to start a process, by raising `NetworkRefused` from inside the
  operation, so the connection is never opened;
- `rdflib.plugins.sparql.SPARQL_LOAD_GRAPHS` is False, so `FROM` and
  `FROM NAMED` only name graphs already in the dataset and never read a URL or
  a local file.

Libraries may swallow the exception (rdflib's graph loader catches every
`Exception`), so each refused attempt is also recorded, and leaving the block
raises `NetworkRefused` for the first one even when the body "succeeded".
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import rdflib.plugins.sparql

# Audit events (https://docs.python.org/3/library/audit_events.html) that open
# a connection, resolve a name or send a datagram, or start a process. Validation
# needs none of them; anything that tries is input doing what it must not.
REFUSED_EVENTS = frozenset(
    {
        "socket.__new__",
        "socket.bind",
        "socket.connect",
        "socket.getaddrinfo",
        "socket.gethostbyaddr",
        "socket.gethostbyname",
        "socket.getnameinfo",
        "socket.sendmsg",
        "socket.sendto",
        "urllib.Request",
        "http.client.connect",
        "ftplib.connect",
        "imaplib.open",
        "nntplib.connect",
        "poplib.connect",
        "smtplib.connect",
        "telnetlib.Telnet.open",
        "webbrowser.open",
        "subprocess.Popen",
        "os.system",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "pty.spawn",
    }
)


class NetworkRefused(RuntimeError):
    """An operation that would reach the network ran while mu was offline."""

    def __init__(self, event: str, detail: str) -> None:
        super().__init__(f"`{event}` refused while offline ({detail})")
        self.event = event
        self.detail = detail


class _Attempts:
    """The refused operations of one `offline()` block (mutable, so not a dataclass)."""

    def __init__(self) -> None:
        self.refused: list[NetworkRefused] = []


# A ContextVar rather than a process-wide flag: only the code running inside
# `offline()` is restricted, so a decision service that validates in one thread
# still delivers its notifications from another. Threads started inside the
# block begin with an empty context and are not restricted; pySHACL and rdflib
# start none.
_ACTIVE: ContextVar[_Attempts | None] = ContextVar("mu_offline", default=None)
_INSTALL_LOCK = threading.Lock()
_installed = False


def _describe(args: tuple[Any, ...]) -> str:
    # Only the first arguments matter (host, address, URL); keep the message short.
    text = ", ".join(repr(a) for a in args[:2])
    return text if len(text) <= 200 else text[:197] + "..."


def _hook(event: str, args: tuple[Any, ...]) -> None:
    # Runs for every audited operation of the process: cheap checks first.
    if event not in REFUSED_EVENTS:
        return
    attempts = _ACTIVE.get()
    if attempts is None:
        return
    refused = NetworkRefused(event, _describe(args))
    attempts.refused.append(refused)
    raise refused


def install() -> None:
    """Install the audit hook once per process (hooks can never be removed).

    The hook does nothing outside `offline()`. Calling this again is harmless.
    """
    global _installed
    with _INSTALL_LOCK:
        if not _installed:
            sys.addaudithook(_hook)
            _installed = True


def is_offline() -> bool:
    """True inside an `offline()` block of the current context."""
    return _ACTIVE.get() is not None


@contextmanager
def offline() -> Iterator[None]:
    """Run the block with no network access and no remote graph loading.

    Raises `NetworkRefused` for the first refused operation, even when code in
    the block caught it or turned it into another error. Blocks nest; the
    previous state is restored on exit.
    """
    install()
    attempts = _Attempts()
    token = _ACTIVE.set(attempts)
    previous_load = rdflib.plugins.sparql.SPARQL_LOAD_GRAPHS
    rdflib.plugins.sparql.SPARQL_LOAD_GRAPHS = False
    try:
        yield
    except Exception as exc:
        # A library may wrap the refusal ("could not load …"): name the cause.
        if attempts.refused and exc is not attempts.refused[0]:
            raise attempts.refused[0] from exc
        raise
    finally:
        rdflib.plugins.sparql.SPARQL_LOAD_GRAPHS = previous_load
        _ACTIVE.reset(token)
    if attempts.refused:
        raise attempts.refused[0]

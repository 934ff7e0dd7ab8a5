"""A wall-clock limit on evaluating foreign input.

A shape's SPARQL can ask for anything, e.g. a cross join of every triple with
every other, which rdflib would grind through for hours; an auditor replaying
a receipt must get an answer instead. `time_limit` interrupts the block with a
real-time interval timer (`signal.setitimer(ITIMER_REAL)`) whose SIGALRM
handler raises a private `BaseException`, so the `except Exception` clauses
inside rdflib and pySHACL cannot swallow it; the block's caller sees
`DeadlineExceeded`.

Signals are delivered to the main thread only, so the limit applies only to
code running there (mu's CLI always validates in its main thread). Called
from any other thread, or on a platform without `setitimer`, `time_limit`
runs the block without a limit: whoever validates in a thread must bound it
themselves (e.g. run mu in a child process with a timeout).
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from mu.generator.errors import InputError

TIMEOUT_ENV = "MU_VALIDATION_TIMEOUT"
DEFAULT_TIMEOUT_SECONDS = 300.0
# After the first SIGALRM the timer keeps firing at this interval, in case code
# in the block catches even a BaseException and carries on.
_REPEAT_SECONDS = 0.5


class DeadlineExceeded(Exception):
    """The block ran longer than its limit and was interrupted."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"did not finish within {seconds:g} s")
        self.seconds = seconds


class _Expired(BaseException):
    """Raised by the SIGALRM handler; a BaseException so `except Exception` misses it."""


def validation_timeout() -> float:
    """The validation limit in seconds: `MU_VALIDATION_TIMEOUT`, or 300.

    A value that is not a positive, finite number of seconds is an `InputError`
    rather than silently falling back: a typo must not remove the limit.
    """
    raw = os.environ.get(TIMEOUT_ENV)
    if raw is None or raw.strip() == "":
        return DEFAULT_TIMEOUT_SECONDS
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise InputError(
            f"`{TIMEOUT_ENV}` must be a positive number of seconds, not `{raw}`",
            hint=f"set e.g. `{TIMEOUT_ENV}=600`, or unset it for the default of "
            f"{DEFAULT_TIMEOUT_SECONDS:g} s",
        )
    return seconds


def _can_interrupt() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Run the block for at most `seconds`; raise `DeadlineExceeded` when it overruns.

    The previous SIGALRM handler and any timer already armed (e.g. by a test
    runner) are restored afterwards, the latter with the time it has left.
    Outside the main thread the block runs without a limit (see the module doc).
    """
    if not _can_interrupt():
        yield
        return
    armed = [True]

    def expire(_signum: int, _frame: FrameType | None) -> None:
        if armed[0]:
            raise _Expired

    started = time.monotonic()
    previous_handler = signal.signal(signal.SIGALRM, expire)
    previous_delay, previous_interval = signal.setitimer(
        signal.ITIMER_REAL, seconds, _REPEAT_SECONDS
    )
    try:
        yield
    except _Expired:
        armed[0] = False
        raise DeadlineExceeded(seconds) from None
    finally:
        # Disarm first, so no late SIGALRM reaches the restored handler.
        armed[0] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        # None: the previous handler was not set from Python; the default is the best guess.
        signal.signal(signal.SIGALRM, previous_handler or signal.SIG_DFL)
        if previous_delay > 0:
            left = previous_delay - (time.monotonic() - started)
            # An outer timer that is already due fires (almost) at once.
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3), previous_interval)

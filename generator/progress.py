"""Progress of long work, reported to whoever asks: the library never prints.

`mu build` on a thousand controls takes tens of seconds. The stages that take
the time (`compile.pipeline`, `run.golden`, `build.gates`) call a `Progress`
with a `Step`; `cli.py` shows the steps on a terminal's standard error and
passes `silent` everywhere else, so nothing on standard output and nothing
generated depends on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Step:
    """One stage begun, or counted work advanced.

    `stage` is a compiler stage's name (`load`, `validate`, … `render`,
    `digest`; see `compile.pipeline.STAGES`), `golden`, `reference` or
    `determinism`.
    `total` is how many items the stage works through when known (controls
    to validate, golden cases to run) and `done` how many are finished.
    """

    stage: str
    done: int = 0
    total: int | None = None


class Progress(Protocol):
    """Told of every `Step`; must be cheap and must not raise."""

    def __call__(self, step: Step, /) -> None: ...


def silent(step: Step, /) -> None:
    """The `Progress` that reports nothing: the default of every long call."""
    del step

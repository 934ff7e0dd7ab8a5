"""The commands of the runbooks (docs/runbooks/*.md), as the runbook test runs them.

A runbook's ```sh blocks are its commands, in order. A command is one line, a line
ending in `\\` with the lines it continues onto, or a line opening a here-document with
its body. Its expected exit code is 0 unless its last line ends in a comment whose
last words are `exit N` (`mu verify-hashes   # the edited file is named; exit 1`).
Lines that are blank or only a comment are not commands. The convention is documented
for runbook writers in docs/runbooks/README.md."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# A fence may be indented (a block inside a numbered step); its lines lose that indent.
FENCE = re.compile(r"^(\s*)```\s*(\S*)\s*$")
# The trailing comment stating the exit code: `# exit 1`, `# …; exit 2`.
EXIT = re.compile(r"#[^'\"`]*\bexit (\d+)\s*$")
HEREDOC = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1")
SHELL_BLOCKS = frozenset({"sh"})


@dataclass(frozen=True)
class Command:
    """One command of a runbook and where it is written."""

    runbook: str
    block: int
    line: int
    text: str
    expect: int

    @property
    def where(self) -> str:
        """`jtbd-1-….md, block 2, line 31`: how a failure names the command."""
        return f"{self.runbook}, block {self.block}, line {self.line}"


def commands(path: Path) -> list[Command]:
    """Every command of the ```sh blocks of `path`, in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Command] = []
    block = 0
    index = 0
    while index < len(lines):
        fence = FENCE.match(lines[index])
        index += 1
        if fence is None or fence.group(2) == "":
            continue
        end = _closing_fence(lines, index)
        if fence.group(2) in SHELL_BLOCKS:
            block += 1
            indent = fence.group(1)
            body = [line.removeprefix(indent) for line in lines]
            found.extend(_block_commands(path.name, block, body, index, end))
        index = end + 1
    return found


def _closing_fence(lines: list[str], start: int) -> int:
    for number in range(start, len(lines)):
        if lines[number].strip() == "```":
            return number
    raise ValueError(f"unclosed code block opened before line {start}")


def _block_commands(
    runbook: str, block: int, lines: list[str], start: int, end: int
) -> list[Command]:
    found: list[Command] = []
    index = start
    while index < end:
        first = index
        stripped = lines[index].strip()
        index += 1
        if not stripped or stripped.startswith("#"):
            continue
        text = [lines[first]]
        while text[-1].rstrip().endswith("\\") and index < end:
            text.append(lines[index])
            index += 1
        last = text[-1]
        heredoc = HEREDOC.search(" ".join(text))
        if heredoc is not None:
            word = heredoc.group(2)
            while index < end and lines[index].strip() != word:
                text.append(lines[index])
                index += 1
            if index == end:
                raise ValueError(f"{runbook}: here-document `{word}` is never closed")
            text.append(lines[index])
            index += 1
        expect = EXIT.search(last)
        found.append(
            Command(runbook, block, first + 1, "\n".join(text),
                    int(expect.group(1)) if expect else 0)
        )
    return found


def script(steps: list[Command]) -> str:
    """A bash script running `steps` in one shell (variables and `cd` carry over), each
    with its output captured; at the first exit code that differs from the expected one
    it prints `MISMATCH <index> <code>` and that command's output, and stops."""
    parts = ["set -o pipefail", '__out="$(mktemp)"']
    for number, step in enumerate(steps):
        # The newline before `}` keeps a trailing comment from swallowing the brace.
        parts.append(
            f'{{\n{step.text}\n}} >"$__out" 2>&1 </dev/null\n__rc=$?\n'
            f'if [ "$__rc" -ne {step.expect} ]; then\n'
            f'  echo "MISMATCH {number} $__rc"; cat "$__out"; rm -f "$__out"; exit 97\nfi'
        )
    parts.append('rm -f "$__out"\necho RUNBOOK-DONE')
    return "\n".join(parts) + "\n"

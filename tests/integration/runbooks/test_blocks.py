"""How the runbook test reads a runbook and reports a drifted one (blocks.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.runbooks.blocks import Command, commands
from tests.integration.runbooks.test_runbooks import Scratch, run_runbook

RUNBOOK = """\
# A runbook

Prose with `mu validate`, not a command.

```text
mu build   # a plain block: never run
```

1. A step:
   ```sh
   # a comment line is not a command
   FILE=note.txt
   cat > "$FILE" <<'EOF'
   a line   # exit 3 (inside a here-document: data)
   EOF
   grep -q line "$FILE" \\
     && echo found
   ```

```sh
grep -q absent note.txt   # not there: exit 1
```
"""


@pytest.fixture
def runbook(tmp_path: Path) -> Path:
    path = tmp_path / "jtbd-9-example.md"
    path.write_text(RUNBOOK, encoding="utf-8")
    return path


def test_commands_are_the_sh_blocks_in_order(runbook: Path) -> None:
    found = commands(runbook)
    assert [(c.block, c.line, c.expect) for c in found] == [(1, 12, 0), (1, 13, 0),
                                                           (1, 16, 0), (2, 21, 1)]
    assert found[0].text == "FILE=note.txt"
    assert found[1].text.splitlines() == [
        "cat > \"$FILE\" <<'EOF'", "a line   # exit 3 (inside a here-document: data)", "EOF",
    ]
    assert found[2].text == 'grep -q line "$FILE" \\\n  && echo found'
    assert found[3].where == "jtbd-9-example.md, block 2, line 21"


def test_an_unclosed_here_document_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.md"
    path.write_text("```sh\ncat > x <<'EOF'\nno end\n```\n", encoding="utf-8")
    with pytest.raises(ValueError, match="never closed"):
        commands(path)


def scratch(tmp_path: Path) -> Scratch:
    repo = tmp_path / "repo"
    repo.mkdir()
    return Scratch(repo, tmp_path, {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})


@pytest.mark.slow
def test_a_runbook_as_written_passes(runbook: Path, tmp_path: Path) -> None:
    run_runbook(commands(runbook), scratch(tmp_path))
    assert (tmp_path / "repo" / "note.txt").read_text(encoding="utf-8").startswith("a line")


@pytest.mark.slow
def test_an_unexpected_exit_code_names_runbook_block_line_and_output(tmp_path: Path) -> None:
    steps = [
        Command("jtbd-9-example.md", 1, 5, "echo one", 0),
        Command("jtbd-9-example.md", 2, 9, "echo the output; false", 0),
        Command("jtbd-9-example.md", 2, 10, "echo never", 0),
    ]
    with pytest.raises(pytest.fail.Exception) as failed:
        run_runbook(steps, scratch(tmp_path))
    message = str(failed.value)
    assert "jtbd-9-example.md, block 2, line 9" in message
    assert "exited 1, the runbook says 0" in message
    assert "the output" in message


@pytest.mark.slow
def test_a_command_that_should_fail_but_passes_is_reported(tmp_path: Path) -> None:
    steps = [Command("jtbd-9-example.md", 1, 3, "true", 1)]
    with pytest.raises(pytest.fail.Exception, match="exited 0, the runbook says 1"):
        run_runbook(steps, scratch(tmp_path))


@pytest.mark.slow
def test_a_runbook_that_exits_its_shell_is_reported(tmp_path: Path) -> None:
    steps = [Command("jtbd-9-example.md", 1, 3, "exit 0", 0),
             Command("jtbd-9-example.md", 1, 4, "true", 0)]
    with pytest.raises(AssertionError, match="stopped early"):
        run_runbook(steps, scratch(tmp_path))

"""Every command of every runbook (docs/runbooks/*.md) runs, in order, against a scratch
policy repository, and exits as the runbook says (issue 14): a runbook that drifts from
the tool breaks the build.

The scratch world is what the runbooks assume (docs/runbooks/README.md): the example
repository with a signed chain of two receipts and its trust root; `~/keys/` holding the
root, release (`release-bot`), compliance (`alice`, `bob`), auditor and runtime keys; a
`mu.toml` declaring `test` and `production` under `~/srv/`; production running release
2 (after release 1); `~/trust-root-1.json`, the auditor's pin. `mu` and `μ` on PATH are
this checkout's."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.chain import ChainTemplates, ok
from tests.conftest import REPO, run_mu
from tests.integration.runbooks.blocks import Command, commands, script

RUNBOOKS = REPO / "docs" / "runbooks"
JOBS = sorted(RUNBOOKS.glob("jtbd-*.md"))
DOCS = sorted(RUNBOOKS.glob("*.md"))
RUNBOOK_SECONDS = 300
MU_TOML = """\
# Deploy environments (the runbooks' `--target=test`, `--target=production`).
[environments.test]
target = "~/srv/test/enforcers"

[environments.production]
target = "~/srv/production/enforcers"
"""


@dataclass(frozen=True)
class Scratch:
    """A policy repository as an operator finds it, and the environment to run in."""

    repo: Path
    home: Path
    env: dict[str, str]


def make_scratch(base: Path, templates: ChainTemplates) -> Scratch:
    """`base/repo` (chain of two, production deployed) and `base/home` (`~/keys/`)."""
    built = templates.copy(2, base)
    home = base / "home"
    keys = home / "keys"
    home.mkdir()
    shutil.move(base / "keys", keys)
    repo = built.root
    for name, role, identity in (
        ("auditor", "auditor", "carol-auditor"),
        ("runtime", "runtime", "decision-service"),
    ):
        ok(run_mu("keygen", "--out", str(keys / f"{name}.pem"), root=repo))
        ok(run_mu("trust", "add", str(keys / f"{name}.pem.pub"), "--role", role,
                  "--identity", identity, root=repo))
    ok(run_mu("trust", "sign", "--key", str(keys / "root.pem"), root=repo))
    (repo / "mu.toml").write_text(MU_TOML, encoding="utf-8")
    production = home / "srv" / "production" / "enforcers"
    production.parent.mkdir(parents=True)
    for receipt in built.receipts:  # release 1, then 2: switching back has somewhere to go
        ok(run_mu("deploy", "--receipt", str(receipt), "--target", str(production),
                  root=repo))
    # What compliance hands an auditor at onboarding: the first trust root, to pin.
    shutil.copy(repo / "receipts" / "trust" / "1.json", home / "trust-root-1.json")
    tools = Path(sys.executable).parent
    missing = [name for name in ("mu", "μ") if not (tools / name).exists()]
    assert not missing, f"{tools} lacks {missing}: run `pip install -e .` in this checkout"
    # The operator's environment, not the test run's: no MU_* settings leak in.
    env = {key: value for key, value in os.environ.items() if not key.startswith("MU_")}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        PATH=f"{tools}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}",
        LC_ALL="C.UTF-8",
        TZ="UTC",
    )
    return Scratch(repo, home, env)


def run_runbook(steps: list[Command], where: Scratch) -> None:
    """Run `steps` with bash in the scratch repository; fail naming the first command
    whose exit code differs from the runbook's, with its output."""
    proc = subprocess.run(
        ["bash", "--noprofile", "--norc"],
        input=script(steps),
        cwd=where.repo,
        env=where.env,
        capture_output=True,
        text=True,
        timeout=RUNBOOK_SECONDS,
        check=False,
    )
    first, _, output = proc.stdout.partition("\n")
    if proc.returncode == 97 and first.startswith("MISMATCH "):
        _, index, code = first.split()
        step = steps[int(index)]
        pytest.fail(
            f"{step.where}: `{step.text}` exited {code}, the runbook says {step.expect}\n"
            f"{output}",
            pytrace=False,
        )
    assert proc.returncode == 0 and proc.stdout.endswith("RUNBOOK-DONE\n"), (
        f"the runbook's shell stopped early (exit {proc.returncode})\n"
        f"{proc.stdout}\n{proc.stderr}"
    )


def test_there_is_a_runbook_per_job() -> None:
    assert [path.name[:6] for path in JOBS] == [f"jtbd-{n}" for n in range(1, 7)]


@pytest.mark.slow
@pytest.mark.parametrize("runbook", DOCS, ids=[path.stem for path in DOCS])
def test_runbook_runs_as_written(
    runbook: Path, tmp_path: Path, chain_templates: ChainTemplates
) -> None:
    steps = commands(runbook)
    assert steps, f"{runbook.name} has no ```sh block"
    run_runbook(steps, make_scratch(tmp_path, chain_templates))


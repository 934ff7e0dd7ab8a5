"""`mu deploy --switch-back` goes only to a verified release under `TARGET.releases/`:
nothing in the editable deployment record is followed."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mu.generator.errors import CheckFailed, InputError
from mu.generator.files import read_tree
from mu.generator.hashing import tree_digest
from mu.generator.operate.deploy import (
    deploy,
    read_record,
    record_path,
    releases_dir,
    rollback_deploy,
)
from tests.unit.operate.test_deploy import CHANGED, Chain, resolves_to
from tests.unit.operate.test_deploy import chain as chain

pytestmark = pytest.mark.slow  # each deploy runs a health-check child


def deployed_twice(chain: Chain, tmp_path: Path) -> Path:
    target = tmp_path / "enforcers"
    deploy(chain.layout, chain.first, target)
    deploy(chain.layout, chain.second, target)
    return target


def edit_record(target: Path, change: Callable[[dict[str, Any]], None]) -> None:
    path = record_path(target)
    record = json.loads(path.read_bytes())
    change(record["previous"])
    path.write_text(json.dumps(record), encoding="utf-8")


def test_a_record_pointing_outside_the_releases_is_not_followed(
    chain: Chain, tmp_path: Path
) -> None:
    target = deployed_twice(chain, tmp_path)
    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / "MANIFEST.json").write_text("{}")

    def outside(previous: dict[str, Any]) -> None:
        previous.update(release="../../evil", path=str(evil), tree=tree_digest(read_tree(evil)))

    edit_record(target, outside)
    running = resolves_to(target)
    with pytest.raises(CheckFailed, match="not deployed from a receipt"):
        rollback_deploy(chain.layout, target)
    assert resolves_to(target) == running


def test_the_recorded_path_is_ignored_in_favour_of_the_release_name(
    chain: Chain, tmp_path: Path
) -> None:
    target = deployed_twice(chain, tmp_path)
    evil = tmp_path / "evil"
    evil.mkdir()

    def redirect(previous: dict[str, Any]) -> None:
        previous["path"] = str(evil)  # the name still says release 1

    edit_record(target, redirect)
    back = rollback_deploy(chain.layout, target)
    assert back.release.parent == releases_dir(target) and resolves_to(target) != "evil"


def test_a_changed_previous_release_is_refused(chain: Chain, tmp_path: Path) -> None:
    target = deployed_twice(chain, tmp_path)
    record = read_record(target)
    assert record is not None
    previous = releases_dir(target) / record["previous"]["release"]
    with open(previous / CHANGED, "a", encoding="utf-8") as handle:
        handle.write("# edited\n")
    # An attacker who also recomputes the tree digest in the record gains nothing.
    edit_record(target, lambda p: p.update(tree=tree_digest(read_tree(previous))))
    with pytest.raises(CheckFailed, match="has changed since it ran"):
        rollback_deploy(chain.layout, target)


def test_a_release_of_no_receipt_of_the_chain_is_refused(chain: Chain, tmp_path: Path) -> None:
    target = deployed_twice(chain, tmp_path)
    record = read_record(target)
    assert record is not None
    name = record["previous"]["release"]
    fake = "9999-" + "0" * 12
    (releases_dir(target) / name).rename(releases_dir(target) / fake)
    edit_record(target, lambda p: p.update(release=fake))
    with pytest.raises(CheckFailed, match="matches no receipt"):
        rollback_deploy(chain.layout, target)


def test_a_target_inside_the_repository_data_is_refused(chain: Chain) -> None:
    for name in ("receipts", "golden", "ontology"):
        with pytest.raises(InputError, match="refusing"):
            deploy(chain.layout, chain.second, chain.root / name / "deployed")

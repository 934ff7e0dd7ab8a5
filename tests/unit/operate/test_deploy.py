"""`mu deploy` (SPEC §7): a verified, health-checked, atomic switch of a deployed A.

Two real signed receipts, built once per session and copied once per module:
release 1 from the shipped ontology, release 2 after one control's label changed.
A reader in another process, importing whatever TARGET resolves to, never sees a
mixture of the two.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import mu.generator.operate.deploy as deploy_module
from mu.generator.errors import CheckFailed, InputError
from mu.generator.files import read_tree
from mu.generator.hashing import canonical_json
from mu.generator.layout import Layout
from mu.generator.operate.deploy import (
    DeployResult,
    deploy,
    read_record,
    record_path,
    release_name,
    releases_dir,
    rollback_deploy,
)
from mu.generator.provenance.dsse import Envelope
from mu.generator.provenance.keys import generate_keypair
from mu.generator.provenance.receipt import read_receipt, receipt_name
from mu.generator.provenance.signing import Signer, resolve_signer
from mu.generator.provenance.trusthistory import load_history
from tests.chain import ChainTemplates
from tests.conftest import REPO

OLD_LABEL = "vendor payments over 1,000,000.00 USD need the CFO"
NEW_LABEL = "vendor payments over 1,000,000.00 USD need the chief financial officer"
CHANGED = "controls/approval_over_1m.py"
CLOCK = "2030-01-02T03:04:05Z"
READER_SECONDS = 90.0
READER_ITERATIONS = 20_000


@dataclass(frozen=True)
class Chain:
    """A repository with two signed receipts; `enforcers/` holds release 2."""

    root: Path
    key: Path
    pub: Path
    first: Path
    second: Path

    @property
    def layout(self) -> Layout:
        return Layout(self.root)


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory, chain_templates: ChainTemplates) -> Chain:
    """The session's chain of two (tests/chain.py), copied once for this module: release 2
    relabels `approval_over_1m` from OLD_LABEL to NEW_LABEL."""
    built = chain_templates.copy(2, tmp_path_factory.mktemp("deploy"))
    first, second = built.receipts
    approvals = built.root / "ontology" / "controls" / "approvals.ttl"
    assert NEW_LABEL in approvals.read_text(encoding="utf-8")
    return Chain(built.root, built.key, built.pub, first, second)


def subjects(receipt: Path) -> dict[str, str]:
    """The receipt's files, package-relative path → sha256."""
    return {n.removeprefix("enforcers/"): d for n, d in read_receipt(receipt).subjects.items()}


def digests(directory: Path) -> dict[str, str]:
    return {p: hashlib.sha256(d).hexdigest() for p, d in read_tree(directory).items()}


def tree_key(files: dict[str, str]) -> str:
    """How the reader names what it saw: one digest over every (path, sha256)."""
    return hashlib.sha256(json.dumps(sorted(files.items())).encode()).hexdigest()


def resolves_to(target: Path) -> str:
    return Path(os.path.realpath(target)).name


def clock() -> str:
    return CLOCK


# --- the concurrent reader (runs in its own interpreter) ------------------------------------


def _observe(resolved: Path, name: str) -> dict[str, Any]:
    """Import the package at `resolved` as `name`; read every header, the MANIFEST, the files."""
    spec = importlib.util.spec_from_file_location(
        name, resolved / "__init__.py", submodule_search_locations=[str(resolved)]
    )
    assert spec is not None and spec.loader is not None
    package = importlib.util.module_from_spec(spec)
    sys.modules[name] = package
    try:
        spec.loader.exec_module(package)
        modules = {k: m for k, m in sys.modules.items() if k == name or k.startswith(name + ".")}
        headers = {}
        for module in modules.values():
            path = Path(str(module.__file__))
            line = path.read_bytes().split(b"\n")[1].decode()
            headers[path.relative_to(resolved).as_posix()] = line.rsplit(":", 1)[-1]
        manifest_bytes = (resolved / "MANIFEST.json").read_bytes()
        manifest = json.loads(manifest_bytes)
        files = {
            rel: hashlib.sha256((resolved / rel).read_bytes()).hexdigest()
            for rel in manifest["files"]
        }
        files["MANIFEST.json"] = hashlib.sha256(manifest_bytes).hexdigest()
        controls = manifest["controls"]
        label = sys.modules[f"{name}.controls.approval_over_1m"].LABEL
    finally:
        for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
            del sys.modules[key]
    return {
        "release": resolved.name,
        "tree": tree_key(files),
        "manifest_ok": all(files[r] == d for r, d in manifest["files"].items()),
        "headers_ok": all(headers[c["module"]] == c["digest"] for c in controls.values()),
        "modules": len(modules),
        "label": label,
    }


def reader_main(argv: list[str]) -> int:
    """Observe TARGET until release `argv[2]` has been seen a few times, bounded in time."""
    target, out, stop = Path(argv[0]), Path(argv[1]), argv[2]
    sys.dont_write_bytecode = True  # never add files to a release directory
    deadline = time.monotonic() + READER_SECONDS
    seen_stop = 0
    with open(out, "a", encoding="utf-8") as log:
        for i in range(READER_ITERATIONS):
            if time.monotonic() > deadline or seen_stop >= 3:
                break
            resolved = Path(os.path.realpath(target))
            observation = _observe(resolved, f"_reader_{os.getpid()}_{i}")
            log.write(json.dumps(observation) + "\n")
            log.flush()
            seen_stop += observation["release"] == stop
    return 0


def start_reader(target: Path, out: Path, stop: str) -> subprocess.Popen[bytes]:
    code = (
        "import sys; from tests.unit.operate.test_deploy import reader_main; "
        "sys.exit(reader_main(sys.argv[1:]))"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code, str(target), str(out), stop],
        cwd=REPO,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )


def wait_for_lines(path: Path, count: int, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and path.read_text(encoding="utf-8").count("\n") >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"the reader wrote fewer than {count} observations")


# --- the tests ------------------------------------------------------------------------------


def test_switch_under_a_concurrent_reader_is_never_a_mixture(chain: Chain, tmp_path: Path) -> None:
    target = tmp_path / "srv" / "enforcers"
    one = deploy(chain.layout, chain.first, target, now=clock)
    # `enforcers/` holds release 2, so release 1 had to be rebuilt from its snapshot.
    assert one.regenerated and one.changed and one.previous is None
    assert target.is_symlink() and resolves_to(target) == release_name(read_receipt(chain.first))
    assert digests(target) == subjects(chain.first)
    assert one.release.stat().st_mode & 0o777 == 0o755  # readable by the service's user
    assert one.health is not None and one.health.passed == one.health.total > 100
    assert CHANGED in one.modules_added and not one.modules_changed

    out = tmp_path / "observations.jsonl"
    second_name = release_name(read_receipt(chain.second))
    reader = start_reader(target, out, second_name)
    try:
        wait_for_lines(out, 3)  # the reader is running against release 1
        two = deploy(chain.layout, chain.second, target, now=clock)
        assert reader.wait(timeout=READER_SECONDS + 30) == 0
    finally:
        if reader.poll() is None:
            reader.kill()
    trees = {tree_key(subjects(chain.first)): (one.release.name, OLD_LABEL)}
    trees[tree_key(subjects(chain.second))] = (second_name, NEW_LABEL)
    observations = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert observations, "the reader observed nothing"
    for seen in observations:
        assert seen["tree"] in trees, f"a mixture of releases: {seen}"
        assert (seen["release"], seen["label"]) == trees[seen["tree"]]
        assert seen["manifest_ok"] and seen["headers_ok"] and seen["modules"] > 25
    order = [seen["release"] for seen in observations]
    assert order[0] == one.release.name and order[-1] == second_name
    assert order == sorted(order), "the reader went back to release 1"

    assert not two.regenerated and two.changed and two.previous == one.release
    assert two.modules_changed == (CHANGED,)
    assert two.modules_added == () and two.modules_removed == ()
    assert two.package_changed == ("MANIFEST.json",)
    assert digests(one.release) == subjects(chain.first)  # the previous release is kept
    record = read_record(target)
    assert record is not None and two.record == record_path(target)
    assert record["current"]["digest"] == read_receipt(chain.second).digest
    assert record["current"]["sequence"] == 2 and record["time"] == CLOCK
    assert record["previous"]["digest"] == read_receipt(chain.first).digest
    assert record["target"] == str(target)
    journal = (releases_dir(target) / "deployments.jsonl").read_text(encoding="utf-8")
    assert [json.loads(x)["release"] for x in journal.splitlines()] == [
        one.release.name,
        second_name,
    ]

    back = rollback_deploy(chain.layout, target, now=clock)
    assert resolves_to(target) == one.release.name and back.modules_changed == (CHANGED,)
    assert back.digest == read_receipt(chain.first).digest and back.previous == two.release


def corrupt_threshold(release: Path) -> None:
    """A real defect: the control no longer fires below a billion; MANIFEST kept consistent."""
    module = release / CHANGED
    text = module.read_text(encoding="utf-8")
    assert "Decimal('1000000.00')" in text
    module.write_text(text.replace("Decimal('1000000.00')", "Decimal('1000000000.00')"))
    manifest = json.loads((release / "MANIFEST.json").read_bytes())
    manifest["files"][CHANGED] = hashlib.sha256(module.read_bytes()).hexdigest()
    (release / "MANIFEST.json").write_text(json.dumps(manifest), encoding="utf-8")


def append_comment(release: Path) -> None:
    """A hand edit: a byte that MANIFEST.json does not account for."""
    with open(release / CHANGED, "a", encoding="utf-8") as handle:
        handle.write("# edited by hand\n")


@pytest.mark.parametrize(
    ("damage", "named"),
    [(corrupt_threshold, "golden case(s) fail"), (append_comment, "problem(s)")],
    ids=["golden-fails", "manifest-differs"],
)
def test_a_failed_health_check_leaves_release_one_running(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: Any, named: str
) -> None:
    target = tmp_path / "enforcers"
    one = deploy(chain.layout, chain.first, target)
    before, record = digests(target), record_path(target).read_bytes()
    monkeypatch.setattr(deploy_module, "_after_stage", damage)
    with pytest.raises(CheckFailed) as failed:
        deploy(chain.layout, chain.second, target)
    assert named in failed.value.message and "nothing was switched" in failed.value.message
    if damage is corrupt_threshold:
        failing = [p for p in failed.value.problems if "approval_over_1m" in p.message]
        assert failing, failed.value.problems
    else:
        assert any(
            p.where == "MANIFEST.json" and CHANGED in p.message for p in failed.value.problems
        )
    assert resolves_to(target) == one.release.name
    assert digests(target) == before == subjects(chain.first)
    assert record_path(target).read_bytes() == record
    assert not (releases_dir(target) / release_name(read_receipt(chain.second))).exists()


def tamper_payload(receipt: Path, out: Path) -> Path:
    envelope = json.loads(receipt.read_bytes())
    payload = envelope["payload"]
    envelope["payload"] = payload[:40] + ("A" if payload[40] != "A" else "B") + payload[41:]
    out.write_text(json.dumps(envelope), encoding="utf-8")
    return out


def test_a_receipt_that_does_not_verify_is_refused(chain: Chain, tmp_path: Path) -> None:
    target = tmp_path / "enforcers"
    bad = tamper_payload(chain.second, tmp_path / "tampered.json")
    with pytest.raises((CheckFailed, InputError)) as refused:
        deploy(chain.layout, bad, target)
    assert "does not verify" in refused.value.message or "payload" in refused.value.message
    other = generate_keypair(tmp_path / "keys" / "other.pem")
    with pytest.raises(CheckFailed) as wrong_key:
        deploy(chain.layout, chain.second, target, public_key_path=other.public_path)
    # `--public-key` narrows: the receipt must also carry that key's signature.
    assert "does not verify: signature failed" in wrong_key.value.message
    assert not target.exists() and not releases_dir(target).exists()


def test_enforcers_that_differ_are_regenerated_from_the_snapshot(
    chain: Chain, tmp_path: Path
) -> None:
    root = tmp_path / "repo"
    shutil.copytree(chain.root, root)
    receipt = root / "receipts" / chain.second.name
    cache = root / "enforcers" / "controls" / "__pycache__"
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "stale.pyc").write_bytes(b"not part of A")
    taken = deploy(Layout(root), receipt, tmp_path / "a" / "enforcers")
    assert not taken.regenerated  # caches are not part of A

    module = root / "enforcers" / "controls" / "approval_over_100k.py"
    module.write_bytes(module.read_bytes().replace(b"L3", b"L2", 1))
    (root / "enforcers" / "extra.py").write_text("# not generated\n", encoding="utf-8")
    target = tmp_path / "b" / "enforcers"
    rebuilt = deploy(Layout(root), receipt, target)
    assert rebuilt.regenerated
    assert digests(target) == subjects(chain.second)
    assert (root / "enforcers" / "extra.py").exists()  # deploy never rewrites the repository


def forge(chain: Chain, root: Path, change: Any, key: Path | None = None) -> Path:
    """Link 3 of a copy of the chain at `root`: receipt 1's statement, altered by `change`,
    signed by the release key (or `key`)."""
    shutil.copytree(chain.root, root)
    envelope = Envelope.from_json(chain.first.read_bytes(), str(chain.first))
    statement = json.loads(envelope.payload)
    statement["predicate"]["sequence"] = 3
    statement["predicate"]["parent"] = read_receipt(chain.second).digest
    change(statement)
    signer = resolve_signer(chain.layout, key or chain.key)
    payload = canonical_json(statement)
    signed = Signer(signer.key, signer.keyid, chain.key, False).sign(payload)
    out = root / "receipts" / receipt_name(3, hashlib.sha256(payload).hexdigest())
    out.write_bytes(signed.to_json())
    return out


def test_regenerated_bytes_that_differ_from_the_receipt_are_refused(
    chain: Chain, tmp_path: Path
) -> None:
    def zero_one_digest(statement: dict[str, Any]) -> None:
        for subject in statement["subject"]:
            if subject["name"] == f"enforcers/{CHANGED}":
                subject["digest"]["sha256"] = "0" * 64

    forged = forge(chain, tmp_path / "repo", zero_one_digest)
    target = tmp_path / "enforcers"
    with pytest.raises(CheckFailed) as refused:
        deploy(Layout(tmp_path / "repo"), forged, target)
    assert f"`{CHANGED}`" in refused.value.message
    assert [p.where for p in refused.value.problems] == [CHANGED]
    assert not target.exists()


def test_redeploying_the_running_receipt_changes_nothing(chain: Chain, tmp_path: Path) -> None:
    target = tmp_path / "enforcers"
    first = deploy(chain.layout, chain.second, target)
    record = record_path(target).read_bytes()
    again = deploy(chain.layout, chain.second, target)
    assert first.changed and not again.changed and again.health is None
    assert again.release == first.release and again.modules_changed == ()
    assert record_path(target).read_bytes() == record
    lines = (releases_dir(target) / "deployments.jsonl").read_text(encoding="utf-8")
    assert len(lines.splitlines()) == 1


def test_a_plain_directory_is_adopted_but_never_switched_back_to(
    chain: Chain, tmp_path: Path
) -> None:
    target = tmp_path / "enforcers"
    shutil.copytree(chain.root / "enforcers", target)
    module = target / CHANGED
    module.write_text(module.read_text(encoding="utf-8").replace(NEW_LABEL, OLD_LABEL))
    plain = digests(target)
    result: DeployResult = deploy(chain.layout, chain.second, target)
    assert result.adopted is not None and result.adopted.name.startswith("adopted-")
    assert result.previous == result.adopted and digests(result.adopted) == plain
    assert target.is_symlink() and digests(target) == subjects(chain.second)
    assert result.modules_changed == (CHANGED,) and result.package_changed == ()

    # An adopted directory has no receipt: nothing proves what it is, so no switch back.
    with pytest.raises(CheckFailed, match="not deployed from a receipt"):
        rollback_deploy(chain.layout, target)
    assert resolves_to(target) == result.release.name


def test_rollback_without_a_previous_release_is_refused(chain: Chain, tmp_path: Path) -> None:
    target = tmp_path / "enforcers"
    with pytest.raises(InputError):
        rollback_deploy(chain.layout, target)
    deploy(chain.layout, chain.second, target)
    with pytest.raises(CheckFailed, match="no previous release"):
        rollback_deploy(chain.layout, target)


def run_health(*args: str) -> tuple[int, dict[str, Any]]:
    proc = subprocess.run(
        [sys.executable, "-m", "mu.generator.operate.healthcheck", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return proc.returncode, json.loads(proc.stdout)


def test_the_health_check_child_prints_one_json_verdict(chain: Chain, tmp_path: Path) -> None:
    code, healthy = run_health(str(chain.root / "enforcers"), str(chain.root / "golden"))
    assert code == 0 and healthy["ok"] and healthy["golden"]["failures"] == []
    assert healthy["golden"]["passed"] == healthy["golden"]["total"] > 100
    assert healthy["package"].startswith("_mu_health_")
    broken = tmp_path / "broken"
    shutil.copytree(chain.root / "enforcers", broken)
    (broken / "dispatch.py").write_text("raise RuntimeError('boom')\n", encoding="utf-8")
    code, sick = run_health(str(broken), str(chain.root / "golden"))
    assert code == 1 and not sick["ok"] and "boom" in sick["import_error"]
    assert any("dispatch.py" in p for p in sick["manifest"]["problems"])
    assert not list(broken.rglob("__pycache__"))  # the child writes no bytecode
    assert run_health(str(broken))[0] == 2


# --- the trust root: nothing deploys that does not verify under it ----------------------


def test_a_receipt_signed_by_a_key_outside_the_root_never_deploys(
    chain: Chain, tmp_path: Path
) -> None:
    dev = generate_keypair(tmp_path / "keys" / "dev.pem")
    forged = forge(chain, tmp_path / "repo", lambda s: None, key=dev.private_path)
    target = tmp_path / "enforcers"
    for public_key in (None, dev.public_path):
        with pytest.raises(CheckFailed) as refused:
            deploy(Layout(tmp_path / "repo"), forged, target, public_key_path=public_key)
        assert "trust" in refused.value.message
        assert any("untrusted key" in p.message for p in refused.value.problems)
        assert "--public-key" not in (refused.value.hint or "")
    assert not target.exists()


def test_deleted_approvals_stop_a_deploy_and_a_switch_back(chain: Chain, tmp_path: Path) -> None:
    root = tmp_path / "repo"
    shutil.copytree(chain.root, root)
    layout = Layout(root)
    first, second = (root / "receipts" / p.name for p in (chain.first, chain.second))
    target = tmp_path / "enforcers"
    deploy(layout, first, target)
    deploy(layout, second, target)
    shutil.rmtree(layout.approvals)
    with pytest.raises(CheckFailed) as refused:
        rollback_deploy(layout, target)
    assert "approvals failed" in refused.value.message
    assert any("by `alice` is missing" in p.message for p in refused.value.problems)
    assert resolves_to(target).startswith("0002-")
    other = tmp_path / "other" / "enforcers"
    with pytest.raises(CheckFailed, match="approvals failed"):
        deploy(layout, second, other)


def test_an_older_link_deploys_with_a_warning_kept_in_the_record(
    chain: Chain, tmp_path: Path
) -> None:
    target = tmp_path / "enforcers"
    result = deploy(chain.layout, chain.first, target, now=clock)
    assert result.changed
    [warning] = result.warnings
    assert f"older than the newest link of the chain (`{chain.second.name}`" in warning
    record = read_record(target)
    assert record is not None and record["warnings"] == [warning]
    newest = deploy(chain.layout, chain.second, target, now=clock)
    assert newest.warnings == ()
    assert read_record(target)["warnings"] == []  # type: ignore[index]


def test_a_target_keeps_the_trust_root_it_was_first_deployed_under(
    chain: Chain, tmp_path: Path
) -> None:
    target = tmp_path / "enforcers"
    history = load_history(chain.layout)
    result = deploy(chain.layout, chain.first, target)
    assert result.trust_root == history.first.ref() and result.trust_root["version"] == 1
    assert result.trust_warning is not None  # the first deploy trusted the repository's root
    record = read_record(target)
    assert record is not None and record["trust_root"] == history.first.ref()
    # Later deploys verify from the recorded pin, so nothing warns.
    again = deploy(chain.layout, chain.second, target)
    assert again.trust_warning is None and again.trust_root == history.first.ref()
    # A root that no longer reaches the recorded pin (it was replaced) deploys nothing.
    record = read_record(target)
    assert record is not None
    record["trust_root"] = {"version": 1, "digest": "f" * 64}
    record_path(target).write_text(json.dumps(record), encoding="utf-8")
    for attempt in (
        lambda: deploy(chain.layout, chain.first, target),
        lambda: deploy(chain.layout, chain.first, target, trust_root=history.first.digest),
        lambda: rollback_deploy(chain.layout, target),
    ):
        with pytest.raises(CheckFailed) as refused:
            attempt()
        assert "first deployed under trust root version 1 (sha256 ffffffffffff" in (
            refused.value.message
        )
    assert resolves_to(target).startswith("0002-")

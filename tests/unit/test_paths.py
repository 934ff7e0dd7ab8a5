"""The path policy (SPEC §7): no write command may be pointed at the repository's own
data, and no path read from a receipt or snapshot may leave its directory."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from mu.generator.errors import InputError
from mu.generator.layout import Layout
from mu.generator.paths import output_directory, output_file, safe_relative
from tests.chain import Built, Mu
from tests.conftest import Run, copy_repo
from tests.resign import Statement, plant_snapshot, resign, snapshot_files

PROTECTED = ["", ".", "..", ".git", ".git/objects", "ontology", "ontology/controls", "golden"]
PROTECTED += ["receipts", "receipts/snapshots", "mu.toml"]


def fingerprint(root: Path) -> dict[str, str]:
    """Every file and link under `root` with its content digest."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in [*filenames, *(d for d in dirnames if Path(dirpath, d).is_symlink())]:
            path = Path(dirpath, name)
            rel = path.relative_to(root).as_posix()
            data = os.readlink(path).encode() if path.is_symlink() else path.read_bytes()
            out[rel] = hashlib.sha256(data).hexdigest()
    return out


@pytest.fixture
def policy_repo(tmp_path: Path) -> Path:
    root = copy_repo(tmp_path / "repo", enforcers=True)
    (root / ".git" / "objects").mkdir(parents=True)
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (root / "receipts" / "snapshots").mkdir(parents=True)
    (root / "receipts" / "README.md").write_text("receipts\n")
    return root


@pytest.mark.parametrize(
    "rel",
    ["ontology//tmp/x.sh", "/etc/passwd", "ontology/../x", "ontology/./x", "a\\b", "", "a/", "\n"],
)
def test_unsafe_relative_paths_are_refused(rel: str) -> None:
    assert not safe_relative(rel)


def test_plain_relative_paths_are_safe() -> None:
    assert safe_relative("ontology/controls/approvals.ttl")


@pytest.mark.parametrize("rel", PROTECTED)
def test_output_directory_refuses_the_repository_and_its_data(policy_repo: Path, rel: str) -> None:
    raw = rel if rel in ("",) else str(policy_repo / rel) if rel else rel
    with pytest.raises(InputError, match=r"refusing|empty"):
        output_directory(Layout(policy_repo), raw)
    with pytest.raises(InputError, match=r"refusing|empty"):
        output_file(Layout(policy_repo), raw, what="a file")


def test_a_link_into_the_repository_data_is_refused(policy_repo: Path, tmp_path: Path) -> None:
    link = tmp_path / "innocent"
    link.symlink_to(policy_repo / "golden")
    with pytest.raises(InputError, match=r"inside `golden/`|is `golden/`"):
        output_directory(Layout(policy_repo), str(link))


def test_a_foreign_directory_is_refused_but_a_generated_one_is_not(
    policy_repo: Path, tmp_path: Path
) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine\n")
    with pytest.raises(InputError, match="did not generate"):
        output_directory(Layout(policy_repo), str(foreign))
    assert output_directory(Layout(policy_repo), str(policy_repo / "enforcers")).is_dir()
    assert not output_directory(Layout(policy_repo), str(tmp_path / "new")).exists()


WRITERS = [
    ("generate", "--input", "ontology", "--output", "{}"),
    ("rollback", "--receipt", "{receipt}", "--output", "{}"),
    ("replay", "--receipt", "{receipt}", "--statement-out", "{}"),
    ("keygen", "--out", "{}"),
    ("deploy", "--receipt", "{receipt}", "--target", "{}"),
]


@pytest.mark.slow
@pytest.mark.parametrize("command", WRITERS, ids=[w[0] for w in WRITERS])
def test_every_write_command_leaves_the_repository_whole(
    mu: Mu, built: Built, command: tuple[str, ...]
) -> None:
    root = built.root
    receipt = built.receipt
    (root / ".git" / "objects").mkdir(parents=True)
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    before = fingerprint(root)
    for rel in PROTECTED:
        target = rel if rel in ("", ".", "..") else str(root / rel)
        argv = [a.format(target, receipt=receipt) for a in command]
        cwd = Path.cwd()
        os.chdir(root)  # `.` and `..` mean the repository root and its parent
        try:
            run: Run = mu(*argv, root=root)
        finally:
            os.chdir(cwd)
        assert run.code == 2, (argv, run.out, run.err)
        assert "refusing" in run.err or "empty" in run.err, run.err
        assert fingerprint(root) == before, argv


@pytest.mark.slow
def test_a_snapshot_path_with_an_empty_segment_writes_nothing_outside(
    mu: Mu, built: Built, tmp_path: Path
) -> None:
    root = built.root
    receipt = built.receipt
    outside = tmp_path / "pwned" / "evil.sh"

    def plant(statement: Statement) -> None:
        files = snapshot_files(root, statement)
        files[f"ontology/{outside}"] = "#!/bin/sh\necho pwned\n"  # `ontology//tmp/…`
        predicate = statement["predicate"]
        predicate["ontology"]["snapshot"] = plant_snapshot(root, files)

    forged = resign(receipt, built.key, plant)
    for argv in (
        ("rollback", "--receipt", str(forged)),
        ("rollback", "--receipt", str(forged), "--output", str(tmp_path / "out")),
        ("replay", "--receipt", str(forged)),
    ):
        run: Run = mu(*argv, root=root)
        assert run.code == 1, run.out + run.err
        assert "unsafe" in run.out + run.err
    assert not outside.exists() and not outside.parent.exists()


@pytest.mark.slow
def test_a_receipt_cannot_point_its_snapshot_elsewhere(mu: Mu, built: Built) -> None:
    receipt = built.receipt

    def elsewhere(statement: Statement) -> None:
        snap = statement["predicate"]["ontology"]["snapshot"]
        snap["path"] = "/dev/zero"

    forged = resign(receipt, built.key, elsewhere)
    run: Run = mu("replay", "--receipt", str(forged), root=built.root)
    assert run.code in (1, 2) and "snapshot" in run.out + run.err


def test_a_symlinked_enforcers_is_refused_not_replaced(mu: Mu, tmp_path: Path) -> None:
    root = copy_repo(tmp_path / "repo")
    real = tmp_path / "elsewhere"
    real.mkdir()
    (real / "keep.txt").write_text("keep\n")
    (root / "enforcers").symlink_to(real)
    run: Run = mu("generate", root=root)
    assert run.code == 2 and "symbolic link" in run.err
    assert (root / "enforcers").is_symlink() and (real / "keep.txt").read_text() == "keep\n"


# -- what makes a directory a policy repository (where `mu keygen` will not write) -----


def test_a_policy_repository_holds_the_organisations_data(tmp_path: Path) -> None:
    from mu.generator.paths import REPOSITORY_DATA, is_policy_repository

    assert not is_policy_repository(tmp_path)
    (tmp_path / ".git").mkdir()
    (tmp_path / "enforcers").mkdir()
    assert not is_policy_repository(tmp_path)  # any git checkout is not one
    for name in REPOSITORY_DATA:
        one = tmp_path / name / "repo"
        (one / name).mkdir(parents=True)
        assert is_policy_repository(one)
    (tmp_path / "file" / "repo").mkdir(parents=True)
    (tmp_path / "file" / "repo" / "ontology").write_text("not a directory\n")
    assert not is_policy_repository(tmp_path / "file" / "repo")


def test_the_enclosing_repository_is_the_nearest_above_the_path(tmp_path: Path) -> None:
    from mu.generator.paths import enclosing_repository

    repo = tmp_path / "repo"
    (repo / "receipts").mkdir(parents=True)
    assert enclosing_repository(repo / "keys" / "deep" / "k.pem") == repo.resolve()
    assert enclosing_repository(repo / "k.pem") == repo.resolve()
    assert enclosing_repository(tmp_path / "k.pem") is None
    # A symlink is judged by where the bytes would land.
    (tmp_path / "link").symlink_to(repo)
    assert enclosing_repository(tmp_path / "link" / "k.pem") == repo.resolve()
    # A declared root (`--root`) counts whatever it holds, for paths inside it only.
    plain = tmp_path / "plain"
    plain.mkdir()
    assert enclosing_repository(plain / "k.pem", declared=plain) == plain.resolve()
    assert enclosing_repository(tmp_path / "k.pem", declared=plain) is None
    assert enclosing_repository(repo / "k.pem", declared=plain) == repo.resolve()

"""Files read from `ontology/` and `golden/`: no symlinks, only UTF-8 names that
a receipt can record (generator/layout.py `sorted_files`)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from mu.generator.compile.load import read_sources
from mu.generator.errors import InputError
from mu.generator.layout import Layout, sorted_files
from mu.generator.provenance.snapshot import collect
from mu.generator.run.golden import load_suite
from tests.conftest import REPO, Run, copy_repo

Mu = Callable[..., Run]
SECRET = "-----BEGIN OPENSSH PRIVATE KEY-----\nnot for the snapshot\n"


def _outside_secret(tmp_path: Path) -> Path:
    secret = tmp_path / "outside" / "id_ed25519.toml"
    secret.parent.mkdir()
    secret.write_text(SECRET, encoding="utf-8")
    return secret


def test_a_symlinked_golden_file_is_refused_not_snapshotted(tmp_path: Path) -> None:
    root = copy_repo(tmp_path / "repo")
    link = root / "golden" / "x.toml"
    link.symlink_to(_outside_secret(tmp_path))
    with pytest.raises(InputError) as info:
        collect(Layout(root))
    assert info.value.message.startswith(f"`{link}` is a symbolic link")
    assert "chmod" not in info.value.hint and "copy" in info.value.hint
    with pytest.raises(InputError, match="is a symbolic link"):
        load_suite(root / "golden")


def test_a_symlinked_directory_under_ontology_is_refused(tmp_path: Path) -> None:
    root = copy_repo(tmp_path / "repo")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "extra.ttl").write_text("# nothing\n", encoding="utf-8")
    link = root / "ontology" / "controls" / "more"
    link.symlink_to(outside, target_is_directory=True)
    with pytest.raises(InputError, match=f"`{link}` is a symbolic link"):
        read_sources(root / "ontology", root / "ontology" / "controls")


@pytest.mark.parametrize("kind", ["root", "dangling", "other-pattern"])
def test_every_symlink_under_the_directory_is_refused(tmp_path: Path, kind: str) -> None:
    base = tmp_path / "golden"
    if kind == "root":
        real = tmp_path / "real"
        real.mkdir()
        (real / "a.toml").write_text("", encoding="utf-8")
        base.symlink_to(real, target_is_directory=True)
        link = base
    else:
        (base / "sub").mkdir(parents=True)
        (base / "sub" / "a.toml").write_text("", encoding="utf-8")
        link = base / "sub" / ("gone.toml" if kind == "dangling" else "notes.md")
        link.symlink_to(tmp_path / "nowhere" if kind == "dangling" else base / "sub" / "a.toml")
    with pytest.raises(InputError, match="is a symbolic link"):
        sorted_files(base, "*.toml")


def test_a_file_name_that_is_not_utf8_is_refused_with_escaping(tmp_path: Path) -> None:
    base = tmp_path / "golden"
    base.mkdir()
    name = os.fsdecode(b"caf\xe9.toml")
    (base / name).write_text("", encoding="utf-8")
    with pytest.raises(InputError) as info:
        sorted_files(base, "*.toml")
    assert info.value.message == f"the file name {str(base / name)!r} is not valid UTF-8"
    assert "\\udce9" in info.value.message


def test_a_file_name_with_a_control_character_is_refused(tmp_path: Path) -> None:
    base = tmp_path / "ontology"
    base.mkdir()
    (base / "a\x7fb.ttl").write_text("", encoding="utf-8")
    with pytest.raises(InputError, match="holds a control character"):
        sorted_files(base, "*.ttl")


def test_mu_test_and_validate_refuse_with_exit_2(mu: Mu, tmp_path: Path) -> None:
    root = copy_repo(tmp_path / "repo")
    shutil.copytree(REPO / "enforcers", root / "enforcers")
    (root / "golden" / os.fsdecode(b"\xff.toml")).write_text("", encoding="utf-8")
    run = mu("test", root=root)
    assert run.code == 2, run.out + run.err
    assert "\\udcff.toml' is not valid UTF-8" in run.err
    (root / "ontology" / "controls" / "evil.ttl").symlink_to(_outside_secret(tmp_path))
    run = mu("validate", root=root)
    assert run.code == 2, run.out + run.err
    assert "evil.ttl` is a symbolic link" in run.err

"""Both sides' enforcer packages imported from memory decide exactly as the package on
disk does, share compiled code only where the bytes are equal, and leave nothing behind."""

from __future__ import annotations

import sys

import pytest

from mu.generator.compile.pipeline import Compiled
from mu.generator.errors import InputError
from mu.generator.review.packages import imported
from mu.generator.run.enforcers import load_enforcers
from mu.generator.run.golden import load_suite, run_case
from tests.conftest import REPO


def _ours() -> list[str]:
    return [m for m in sys.modules if m.startswith("_mu_diff_")]


def test_from_memory_decides_every_golden_case_as_the_package_on_disk(
    example_compiled: Compiled,
) -> None:
    on_disk = load_enforcers(REPO / "enforcers")
    cases = load_suite(REPO / "golden").cases
    with imported((example_compiled.files,)) as (in_memory,):
        assert in_memory.__name__ != on_disk.__name__
        assert in_memory.CONTROL_IDS == on_disk.CONTROL_IDS
        for case in cases:
            assert run_case(in_memory, case) == run_case(on_disk, case), case.case_id


def test_equal_bytes_share_code_and_different_bytes_do_not(example_compiled: Compiled) -> None:
    files = dict(example_compiled.files)
    changed = "controls/approval_over_100k.py"
    files[changed] = files[changed].replace(b"100000.00", b"50000.00")
    assert files[changed] != example_compiled.files[changed]
    with imported((example_compiled.files, files)) as (old, new):
        assert old is not new and old.__name__ != new.__name__
        a, b = old.dispatch.CONTROLS, new.dispatch.CONTROLS
        same = {m.CONTROL_ID for m in a} - {"approval_over_100k"}
        for ma, mb in zip(a, b, strict=True):
            assert ma is not mb  # one module per side, always
            # A function the control module itself defines (not one it imports).
            fa = next(
                v
                for v in vars(ma).values()
                if hasattr(v, "__code__") and getattr(v, "__module__", None) == ma.__name__
            )
            fb = vars(mb)[fa.__name__]
            assert (fa.__code__ is fb.__code__) == (ma.CONTROL_ID in same)


def test_nothing_stays_imported(example_compiled: Compiled) -> None:
    finders = list(sys.meta_path)
    with imported((example_compiled.files, example_compiled.files)) as packages:
        assert len(_ours()) > 2 * len(example_compiled.ontology.controls)
        assert len({p.__name__ for p in packages}) == 2
    assert _ours() == [] and sys.meta_path == finders


def test_nothing_stays_imported_after_an_error(example_compiled: Compiled) -> None:
    finders = list(sys.meta_path)
    with pytest.raises(RuntimeError), imported((example_compiled.files,)):
        raise RuntimeError("a case failed")
    assert _ours() == [] and sys.meta_path == finders


def test_a_package_that_does_not_import_is_an_input_error(example_compiled: Compiled) -> None:
    broken = {**example_compiled.files, "dispatch.py": b"raise ImportError('no')\n"}
    finders = list(sys.meta_path)
    with pytest.raises(InputError, match="does not import: no"), imported((broken,)):
        pass
    assert _ours() == [] and sys.meta_path == finders

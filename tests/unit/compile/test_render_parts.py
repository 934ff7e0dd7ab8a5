"""The package in parts: one control module, the shared files, the manifest, and what
each is a function of (the key material a cache of rendered files keys on)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from mu.generator.compile.ir import PackageIR, TypeIR
from mu.generator.compile.render import (
    MANIFEST,
    SHARED_FILES,
    RenderContext,
    render_control,
    render_control_key_material,
    render_manifest,
    render_package,
    render_shared,
    render_shared_key_material,
)
from tests.fixtures_ir import control_ir, sample_package_ir, with_control, with_controls


@pytest.fixture(scope="module")
def ir() -> PackageIR:
    return sample_package_ir()


def relabelled(ir: PackageIR, control_id: str, label: str) -> PackageIR:
    old = next(c for c in ir.controls if c.control_id == control_id)
    fields = {f.name: getattr(old, f.name) for f in dataclasses.fields(old)}
    return with_control(ir, control_ir(**{**fields, "label": label}))


def test_the_package_is_the_union_of_its_parts(ir: PackageIR) -> None:
    context = RenderContext.of(ir)
    parts = render_shared(ir)
    assert tuple(sorted(parts)) == SHARED_FILES
    for control in ir.controls:
        parts[control.module_path] = render_control(control, context)
    parts[MANIFEST] = render_manifest(ir, parts)
    assert parts == render_package(ir)
    assert list(render_package(ir)) == sorted(parts)


def test_the_manifest_is_json_dumps_with_an_indent(ir: PackageIR) -> None:
    for package in (ir, with_controls(ir, [])):
        manifest = render_package(package)[MANIFEST]
        again = json.dumps(json.loads(manifest), sort_keys=True, indent=2) + "\n"
        assert manifest == again.encode("utf-8")
    assert b'"controls": {}' in render_package(with_controls(ir, []))[MANIFEST]


def test_a_control_module_reads_its_control_and_the_generator_only(ir: PackageIR) -> None:
    first, second = ir.controls[0], ir.controls[1]
    context = RenderContext.of(ir)
    material = render_control_key_material(first, context)
    # Another control, the schema and the control set change; this module does not.
    other = relabelled(ir, second.control_id, "another label")
    other = dataclasses.replace(
        other,
        schema=dataclasses.replace(
            other.schema, types=(*other.schema.types, TypeIR("loan", "Loan", ()))
        ),
    )
    other = with_control(other, control_ir(control_id="zz_new", kind="audit_log", ledger="l"))
    kept = next(c for c in other.controls if c.control_id == first.control_id)
    assert render_control_key_material(kept, RenderContext.of(other)) == material
    assert render_package(other)[first.module_path] == render_package(ir)[first.module_path]
    # Its own content and the generator do change it, and the bytes with it.
    renamed = relabelled(ir, first.control_id, "a new label")
    moved = next(c for c in renamed.controls if c.control_id == first.control_id)
    assert render_control_key_material(moved, context) != material
    assert render_control(moved, context) != render_control(first, context)
    newer = RenderContext(context.generator_name, "9.9.9")
    assert render_control_key_material(first, newer) != material
    assert render_control(first, newer) != render_control(first, context)


def test_the_shared_files_read_control_ids_not_control_content(ir: PackageIR) -> None:
    material = render_shared_key_material(ir)
    edited = relabelled(ir, ir.controls[0].control_id, "edited")
    assert render_shared_key_material(edited) == material
    assert render_shared(edited) == render_shared(ir)
    added = with_control(ir, control_ir(control_id="zz_new", kind="audit_log", ledger="l"))
    assert render_shared_key_material(added) != material
    assert render_shared(added)["dispatch.py"] != render_shared(ir)["dispatch.py"]
    fewer = dataclasses.replace(ir.schema, authorities=ir.schema.authorities[:-1])
    assert render_shared_key_material(dataclasses.replace(ir, schema=fewer)) != material


def test_key_material_is_canonical_json(ir: PackageIR) -> None:
    context = RenderContext.of(ir)
    for material in (
        render_control_key_material(ir.controls[0], context),
        render_shared_key_material(ir),
    ):
        value = json.loads(material)
        assert material == json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8")


def test_a_control_alone_is_checked_as_in_the_package(ir: PackageIR) -> None:
    bad = control_ir(control_id="Bad", kind="audit_log", ledger="l")
    with pytest.raises(ValueError, match="control id"):
        render_control(bad, RenderContext.of(ir))
    with pytest.raises(ValueError, match="header"):
        render_control(ir.controls[0], RenderContext("mu", "1.0\nimport os"))
    twice = dataclasses.replace(ir, controls=(ir.controls[0], ir.controls[0]))
    with pytest.raises(ValueError, match="twice"):
        render_shared(twice)

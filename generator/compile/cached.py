"""The render stage with the build cache (`generator.cache`): a control module whose
whole input has been rendered before is taken from the cache instead of rendered.

A module's bytes are a function of `render_control_key_material` alone (and of mu's
own code, which the cache's key carries), so an entry keyed by the digest of that
material is the module. The shared files and the manifest are always rendered: they
read every control. The cache is an optimisation, never evidence: an entry that is not
authentic is a miss (`generator.cache`), and a build's determinism gate compares every
byte with a second compile that reads no cache at all.
"""

from __future__ import annotations

from mu.generator.cache import Cache
from mu.generator.compile.ir import PackageIR
from mu.generator.compile.render import (
    MANIFEST,
    RenderContext,
    render_control,
    render_control_key_material,
    render_manifest,
    render_package,
    render_shared,
)
from mu.generator.hashing import sha256_hex

RENDER_NAMESPACE = "render-control-v1"


def render_cached(ir: PackageIR, cache: Cache) -> dict[str, bytes]:
    """`render_package(ir)`, byte for byte, rendering only the control modules `cache`
    does not hold (and storing those)."""
    if not cache.enabled:
        return render_package(ir)
    files = render_shared(ir)  # checks every control, as render_package does
    context = RenderContext.of(ir)
    controls = sorted(ir.controls, key=lambda c: c.control_id)
    keys = {
        c.control_id: cache.stage_key(
            RENDER_NAMESPACE, sha256_hex(render_control_key_material(c, context))
        )
        for c in controls
    }
    found = cache.get_many(keys.values())
    fresh: dict[str, bytes] = {}
    for control in controls:
        key = keys[control.control_id]
        data = found.get(key)
        if data is None:
            data = fresh[key] = render_control(control, context)
        files[control.module_path] = data
    files = dict(sorted(files.items()))
    files[MANIFEST] = render_manifest(ir, files)
    cache.put_many(fresh)
    return dict(sorted(files.items()))

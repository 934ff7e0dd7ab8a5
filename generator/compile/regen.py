"""A second, independent compile in a fresh process, for the determinism gate.

`python -m mu.generator.compile.regen ONTOLOGY_DIR OUT_DIR [WAIVED]` compiles from
scratch and writes the tree; the determinism gate runs it under another
`PYTHONHASHSEED` and compares every byte with what the first process rendered.
`WAIVED` (JSON `[[shape, focus], …]`) lets through the violations a compliance
override lifted, exactly as the first compile did.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from mu.generator.compile.pipeline import compile_ontology
from mu.generator.compile.validate import ViolationKey
from mu.generator.errors import MuError
from mu.generator.files import write_tree_atomic


def main(argv: list[str]) -> int:
    """Compile `argv[0]` into `argv[1]` (waiving `argv[2]`); print the semantic digest."""
    try:
        pairs = json.loads(argv[2]) if len(argv) > 2 else []
        waived = frozenset(ViolationKey(str(shape), str(focus)) for shape, focus in pairs)
        compiled = compile_ontology(Path(argv[0]), waived=waived)
        write_tree_atomic(Path(argv[1]), compiled.files)
    except MuError as exc:
        sys.stderr.write(f"error: {exc.message}\n")
        return exc.code
    sys.stdout.write(json.dumps({"semantic_digest": compiled.semantic_digest}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

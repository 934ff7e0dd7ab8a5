"""A second, independent compile in a fresh process, for the determinism gate.

`python -m generator.compile.regen ONTOLOGY_DIR OUT_DIR` compiles from scratch and
writes the tree; `build.py` runs it under another `PYTHONHASHSEED` and
compares every byte with what the first process rendered.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from generator.compile.pipeline import compile_ontology
from generator.errors import MuError
from generator.files import write_tree_atomic


def main(argv: list[str]) -> int:
    """Compile `argv[0]` into `argv[1]`; print the semantic digest as JSON."""
    try:
        compiled = compile_ontology(Path(argv[0]))
        write_tree_atomic(Path(argv[1]), compiled.files)
    except MuError as exc:
        sys.stderr.write(f"error: {exc.message}\n")
        return exc.code
    sys.stdout.write(json.dumps({"semantic_digest": compiled.semantic_digest}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

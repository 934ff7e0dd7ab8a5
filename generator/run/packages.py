"""Enforcer packages imported straight from the compiler's output, never written to disk.

The golden gate of `mu build` runs its suite against the package just
rendered, and `mu diff` runs every golden case against both sides' packages.
Written to a scratch directory and imported from there, a 10,000-control
package costs 20,000 file creations and reads (seconds on a journaled file
system). Here the rendered files are served to the import system from
memory, and a module's code is compiled once when several packages hold the
same bytes: a one-control diff of 1,000 controls compiles about 1,000
modules, not 2,000.

The packages are the same bytes `mu generate` would write, imported through
the same relative imports; nothing is written and nothing stays imported
after `imported` returns.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import CodeType, ModuleType

from mu.generator.errors import InputError
from mu.generator.hashing import tree_digest


class _Package(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """One package under a private name, its modules served from `files`."""

    def __init__(self, name: str, files: Mapping[str, bytes], codes: dict[bytes, CodeType]):
        self.name = name
        self.files = files
        self.codes = codes  # shared between the sides: source bytes → compiled code

    def _relative(self, fullname: str) -> tuple[str, bool] | None:
        """The file of module `fullname` in the package, and whether it is a package."""
        if fullname == self.name:
            return "__init__.py", True
        if not fullname.startswith(self.name + "."):
            return None
        path = fullname[len(self.name) + 1 :].replace(".", "/")
        if f"{path}/__init__.py" in self.files:
            return f"{path}/__init__.py", True
        if f"{path}.py" in self.files:
            return f"{path}.py", False
        return None

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        """A spec for the package's own modules; None for every other name."""
        found = self._relative(fullname)
        if found is None:
            return None
        rel, is_package = found
        return importlib.util.spec_from_loader(
            fullname, self, origin=f"enforcers/{rel}", is_package=is_package
        )

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        """The default module object."""
        return None

    def exec_module(self, module: ModuleType) -> None:
        """Run the module's code (compiled once per distinct source) in its namespace."""
        found = self._relative(module.__name__)
        assert found is not None  # find_spec returned a spec only for the package's modules
        source = self.files[found[0]]
        code = self.codes.get(source)
        if code is None:
            # The generated modules carry their own `from __future__` lines: inherit none.
            code = compile(source, f"enforcers/{found[0]}", "exec", dont_inherit=True)
            self.codes[source] = code
        exec(code, module.__dict__)  # the compiler's own output, run as import runs it

    def modules(self) -> list[str]:
        """The names of the package's modules now imported."""
        return [m for m in sys.modules if m == self.name or m.startswith(self.name + ".")]


@contextmanager
def imported(
    sides: Sequence[Mapping[str, bytes]], purpose: str = "memory"
) -> Iterator[list[ModuleType]]:
    """Import each rendered package (relative path → bytes) from memory; unload on exit.

    Names (`_mu_<purpose>_<position>_<digest>`) derive from the content and
    from the position, so two sides never share a module, even when their
    bytes are equal, and a traceback says which feature imported the package.
    """
    codes: dict[bytes, CodeType] = {}
    packages = [
        _Package(f"_mu_{purpose}_{index}_{tree_digest(dict(files))[:16]}", files, codes)
        for index, files in enumerate(sides)
    ]
    sys.meta_path[:0] = packages
    try:
        modules = []
        for package in packages:
            try:
                modules.append(importlib.import_module(package.name))
            except Exception as exc:
                raise InputError(
                    f"a generated enforcer package does not import: {exc}",
                    hint="this is a bug in mu: report it with the two sides compared",
                ) from exc
        yield modules
    finally:
        for package in packages:
            sys.meta_path.remove(package)
            for name in package.modules():
                del sys.modules[name]

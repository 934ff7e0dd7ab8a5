"""The path policy: where mu may write, and which recorded paths it may follow.

One place decides it (SPEC §7), so no command can be pointed at the policy
repository's own data by mistake or by malice:

- a directory or file that mu writes to at a user's request is refused (exit 2)
  when it is empty, the repository root or one of its ancestors, `.git`,
  `ontology/`, `golden/`, `receipts/` or inside them, a symbolic link, or an
  existing directory that mu did not generate;
- a path read from a receipt, a snapshot or a deployment record is relative,
  POSIX, without empty, `.` or `..` segments, back-slashes or control
  characters, so joining it to a directory can never leave that directory.

Both the lexical path and the path with every symlink resolved are checked, so
a link from an innocent-looking place into `.git` is refused too.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from mu.generator.errors import InputError
from mu.generator.jsonread import loads_strict
from mu.generator.layout import Layout

# The repository's own data and history: mu never writes there on request.
# The repository's own data: its folders, and `mu.toml` (its deploy environments), which
# mu reads and never writes.
PROTECTED = (".git", "ontology", "golden", "receipts", "mu.toml")
# A directory holding any of these is a policy repository (`is_policy_repository`).
REPOSITORY_DATA = ("ontology", "golden", "receipts")
MANIFEST = "MANIFEST.json"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_HINT = "write somewhere else: a new directory, or one that mu generated before"


def safe_relative(rel: str) -> bool:
    """Whether `rel` is a relative POSIX path that cannot escape the directory it is joined to.

    Every segment is checked on the raw text, because `PurePosixPath` folds
    `a//b` into `a/b` — and `ontology//tmp/x` with its prefix stripped is `/tmp/x`.
    """
    if not rel or rel.startswith("/") or "\\" in rel or _CONTROL.search(rel):
        return False
    return all(part not in ("", ".", "..") for part in rel.split("/"))


def inside(path: Path, directory: Path) -> bool:
    """Whether `path` lies within `directory`, lexically and once symlinks are resolved."""
    lexical = Path(os.path.abspath(path))
    base = Path(os.path.abspath(directory))
    return lexical.is_relative_to(base) and path.resolve().is_relative_to(directory.resolve())


def is_generated(directory: Path) -> bool:
    """Whether `directory` holds an enforcer package written by mu (its `MANIFEST.json`)."""
    manifest = directory / MANIFEST
    if manifest.is_symlink() or not manifest.is_file():
        return False
    try:
        # Strict: a manifest with a repeated key (`DuplicateKey`) was not written by mu.
        data = loads_strict(manifest.read_bytes())
    except (OSError, ValueError, RecursionError):
        return False
    generator = data.get("generator") if isinstance(data, dict) else None
    return (
        isinstance(generator, dict)
        and generator.get("name") == "mu"
        and isinstance(data.get("files"), dict)
    )


def _forms(path: Path) -> tuple[Path, Path]:
    """The absolute lexical form and the fully resolved form of `path`."""
    return Path(os.path.abspath(path)), path.resolve()


def _refuse_protected(layout: Layout, path: Path, shown: str, what: str) -> None:
    """Refuse the repository root, its ancestors, and its protected directories."""
    root_forms = _forms(layout.root)
    for form in _forms(path):
        for root in root_forms:
            if root.is_relative_to(form):
                where = "the repository root" if form == root else "an ancestor of the repository"
                raise InputError(
                    f"refusing to write {what} to `{shown}`: it is {where}",
                    hint=_HINT,
                )
            for name in PROTECTED:
                if form.is_relative_to(root / name):
                    where = "is" if form == root / name else "is inside"
                    named = name if name.endswith(".toml") else f"{name}/"
                    raise InputError(
                        f"refusing to write {what} to `{shown}`: it {where} `{named}`, "
                        "which holds the repository's own data",
                        hint=_HINT,
                    )


def _shown(raw: str | Path) -> str:
    text = str(raw)
    if isinstance(raw, str) and not raw.strip():
        raise InputError("the output path is empty", hint="name a directory or file to write to")
    return text


def _checked(layout: Layout, raw: str | Path, what: str, link_hint: str) -> tuple[str, Path]:
    """The checks every output shares: not empty, not protected, not a symlink."""
    shown = _shown(raw)
    path = Path(raw)
    _refuse_protected(layout, path, shown, what)
    if path.is_symlink():
        raise InputError(
            f"refusing to write {what} to `{shown}`: it is a symbolic link", hint=link_hint
        )
    return shown, path


def output_directory(layout: Layout, raw: str | Path, *, what: str = "the enforcers") -> Path:
    """Check a directory that mu is asked to replace as a whole; its absolute path.

    Allowed: a path that does not exist yet, an empty directory, or a directory
    holding an enforcer package that mu generated. Everything else is refused.
    """
    shown, path = _checked(
        layout,
        raw,
        what,
        "mu replaces directories atomically and does not follow links; "
        "name the real directory (or use `mu deploy`, which manages a link itself)",
    )
    if path.exists():
        if not path.is_dir():
            raise InputError(
                f"refusing to write {what} to `{shown}`: it is not a directory",
                hint="name a directory: a new one, an empty one, or one mu generated",
            )
        if any(path.iterdir()) and not is_generated(path):
            raise InputError(
                f"refusing to replace `{shown}`: it is a directory that mu did not generate",
                hint="mu only replaces enforcer packages it wrote (they hold its "
                "`MANIFEST.json`); " + _HINT,
            )
    return Path(os.path.abspath(path))


def output_file(layout: Layout, raw: str | Path, *, what: str) -> Path:
    """Check a single file that mu is asked to write; its absolute path."""
    shown, path = _checked(layout, raw, what, "name the real file")
    if path.is_dir():
        raise InputError(
            f"refusing to write {what} to `{shown}`: it is a directory",
            hint="name a file, not a directory",
        )
    return Path(os.path.abspath(path))


def deploy_target(layout: Layout, raw: str | Path) -> Path:
    """Check a deployment target: never the repository's data; a link only if mu made it.

    TARGET is a symlink into `TARGET.releases/` once mu has deployed there; a
    plain directory is adopted only when it holds a package mu generated.
    """
    shown = _shown(raw)
    path = Path(raw)
    _refuse_protected(layout, path, shown, "a deployment")
    absolute = Path(os.path.abspath(path))
    if path.is_symlink():
        releases = absolute.parent / f"{absolute.name}.releases"
        link = os.readlink(path)
        resolved = path.resolve()
        if os.path.isabs(link) or not resolved.is_relative_to(releases.resolve()):
            raise InputError(
                f"refusing to deploy to `{shown}`: it is a symbolic link that mu did not make",
                hint=f"mu deploys by pointing TARGET into `{releases.name}/`; "
                "remove the link or name another target",
            )
        return absolute
    if path.exists() and not path.is_dir():
        raise InputError(
            f"refusing to deploy to `{shown}`: it is not a directory",
            hint="name a directory: a new one, or one `mu deploy` manages",
        )
    if path.is_dir() and any(path.iterdir()) and not is_generated(path):
        raise InputError(
            f"refusing to deploy to `{shown}`: it is a directory that mu did not generate",
            hint=_HINT,
        )
    return absolute


def is_policy_repository(directory: Path) -> bool:
    """Whether `directory` is a policy repository: it holds `ontology/`, `golden/` or
    `receipts/`, the organisation's data (SPEC §2).

    The current directory alone does not make one: `cd ~ && mu keygen --out
    ~/keys/k.pem` must not treat the home directory as a repository.
    """
    return any((directory / name).is_dir() for name in REPOSITORY_DATA)


def enclosing_repository(path: Path, declared: Path | None = None) -> Path | None:
    """The policy repository a file written at `path` would land in, or None.

    `declared` is a repository the user named (`mu --root DIR`): it counts
    whatever it holds. Otherwise the nearest directory above `path` that
    `is_policy_repository`. Symlinks are resolved, so the file is judged by
    where its bytes would go.
    """
    resolved = path.resolve()
    if declared is not None and resolved.is_relative_to(declared.resolve()):
        return declared.resolve()
    return next((d for d in resolved.parents if is_policy_repository(d)), None)


def inside_repository(layout: Layout, path: Path) -> Path:
    """Refuse a write of mu's own (receipts, snapshots, approvals) that a link sends outside.

    `receipts/` or one of its folders replaced by a symlink to elsewhere would
    otherwise make mu write evidence outside the repository it describes.
    """
    if not inside(path, layout.root):
        raise InputError(
            f"refusing to write `{path}`: a symbolic link leads it outside the repository",
            hint="replace the linked folder under `receipts/` by a real directory",
        )
    return path


def state_directory(layout: Layout, raw: str | Path, *, what: str) -> Path:
    """Check a directory that mu keeps appending to (the decision log); its absolute path.

    Unlike `output_directory` it is never replaced, so an existing directory is
    fine; the repository's own data, the repository root and links are refused.
    """
    shown, path = _checked(layout, raw, what, "name the real directory")
    if path.exists() and not path.is_dir():
        raise InputError(
            f"refusing to write {what} to `{shown}`: it is not a directory",
            hint="name a directory: a new one, or the one the service wrote before",
        )
    return Path(os.path.abspath(path))

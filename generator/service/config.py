"""The service's one configuration file (`mu serve --config FILE`), read into typed values.

The file is TOML (an example ships as `docs/serve.example.toml`). This module
reads `[server]` and `[log]`; the delivery tables (`[delivery]`, `[smtp]`,
`[webhook]`, `[ledgers.<name>]`) belong to `generator.outbox.config`. Every
table refuses keys it does not know: a misspelt `chekpoint_every` silently
ignored would leave an operator believing in checkpoints that never come.
Secrets are never in the file, only the names of environment variables.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mu.generator.errors import InputError, Location
from mu.generator.foreign import read_bounded
from mu.generator.outbox import DeliveryConfig, delivery_config

MAX_CONFIG_BYTES = 1024 * 1024
_SERVER_KEYS = {
    "host", "port", "log_dir", "runtime_key", "trust_root", "reload_seconds", "max_body_bytes"
}
_LOG_KEYS = {"checkpoint_every", "checkpoint_seconds", "segment_records"}
_OUTBOX_TABLES = {"delivery", "smtp", "webhook", "ledgers"}
_HINT = "see docs/serve.example.toml for every key the service reads"


@dataclass(frozen=True)
class LogSettings:
    """How the decision log checkpoints and rotates (SPEC §10)."""

    checkpoint_every: int = 1000  # decision records between signed checkpoints
    checkpoint_seconds: float = 10.0  # and at the latest this long after a record
    segment_records: int = 100_000  # lines per segment file before rotation


@dataclass(frozen=True)
class ServiceConfig:
    """Everything `mu serve` needs besides TARGET; paths are absolute."""

    host: str = "127.0.0.1"
    port: int = 8181
    log_dir: Path | None = None  # default: TARGET.decisions/ (SPEC §10)
    runtime_key: Path | None = None  # signs the log's checkpoints; required to serve
    trust_root: str | None = None  # pin (file or sha256), as `--trust-root` elsewhere
    reload_seconds: float = 1.0  # how often TARGET is checked for a deploy's switch
    max_body_bytes: int = 1024 * 1024
    log: LogSettings = field(default_factory=LogSettings)
    delivery: DeliveryConfig = field(default_factory=DeliveryConfig)

    def overridden(
        self, *, host: str | None, port: int | None, log_dir: Path | None
    ) -> ServiceConfig:
        """This configuration with the command line's `--host`, `--port` and `--log` applied."""
        out = self
        if host is not None:
            out = replace(out, host=host)
        if port is not None:
            out = replace(out, port=port)
        if log_dir is not None:
            out = replace(out, log_dir=Path(os.path.abspath(log_dir)))
        return out


def load_config(path: Path | None) -> ServiceConfig:
    """The configuration in `path`, or the defaults when no file is given.

    Raises `InputError` (exit 2) naming the file, the table and the key for a
    file that is unreadable, not TOML, or holds an unknown key or a bad value.
    """
    if path is None:
        return ServiceConfig()
    document = _read(path)
    unknown = sorted(set(document) - {"server", "log"} - _OUTBOX_TABLES)
    if unknown:
        raise _bad(path, f"unknown table `[{unknown[0]}]`")
    base = path.parent.resolve()
    server = _table(document, "server", path)
    log = _table(document, "log", path)
    _known(server, _SERVER_KEYS, "server", path)
    _known(log, _LOG_KEYS, "log", path)
    defaults = ServiceConfig()
    return ServiceConfig(
        host=_str(server, "host", path, defaults.host),
        port=_int(server, "port", path, defaults.port, low=0, high=65535),
        log_dir=_path(server, "log_dir", path, base),
        runtime_key=_path(server, "runtime_key", path, base),
        trust_root=_optional_str(server, "trust_root", path),
        reload_seconds=_number(server, "reload_seconds", path, defaults.reload_seconds),
        max_body_bytes=_int(server, "max_body_bytes", path, defaults.max_body_bytes, low=1024),
        log=LogSettings(
            checkpoint_every=_int(log, "checkpoint_every", path, 1000, low=1),
            checkpoint_seconds=_number(log, "checkpoint_seconds", path, 10.0),
            segment_records=_int(log, "segment_records", path, 100_000, low=2),
        ),
        delivery=delivery_config(document, source=path),
    )


def _read(path: Path) -> dict[str, Any]:
    data = read_bounded(path, what="service configuration", limit=MAX_CONFIG_BYTES)
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise _bad(path, f"is not UTF-8 (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(
            f"the service configuration `{path}` is not valid TOML: {exc}",
            hint=_HINT,
            location=Location.of_parse_error(str(path), exc),
        ) from None


def _bad(path: Path, what: str) -> InputError:
    return InputError(f"the service configuration `{path}` {what}", hint=_HINT)


def _table(document: Mapping[str, Any], name: str, path: Path) -> Mapping[str, Any]:
    table = document.get(name, {})
    if not isinstance(table, dict):
        raise _bad(path, f"has `{name}` as a value, not a table `[{name}]`")
    return table


def _known(table: Mapping[str, Any], keys: set[str], name: str, path: Path) -> None:
    unknown = sorted(set(table) - keys)
    if unknown:
        raise _bad(path, f"has an unknown key `{unknown[0]}` in `[{name}]`")


def _str(table: Mapping[str, Any], key: str, path: Path, default: str) -> str:
    value = table.get(key, default)
    if not isinstance(value, str) or not value:
        raise _bad(path, f"needs a non-empty string for `{key}`")
    return value


def _optional_str(table: Mapping[str, Any], key: str, path: Path) -> str | None:
    return _str(table, key, path, "") if key in table else None


def _int(
    table: Mapping[str, Any], key: str, path: Path, default: int, *, low: int, high: int = 2**31
) -> int:
    value = table.get(key, default)
    # bool is an int in Python; `port = true` is a mistake, not port 1.
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _bad(path, f"needs an integer from {low} to {high} for `{key}`")
    return value


def _number(table: Mapping[str, Any], key: str, path: Path, default: float) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 86400:
        raise _bad(path, f"needs a number of seconds above 0 (at most a day) for `{key}`")
    return float(value)


def _path(table: Mapping[str, Any], key: str, path: Path, base: Path) -> Path | None:
    if key not in table:
        return None
    value = _str(table, key, path, "")
    return Path(os.path.abspath(base / os.path.expanduser(value)))

"""How actions are delivered: the `[delivery]`, `[smtp]`, `[webhook]` and `[ledgers.<name>]`
tables of the service's configuration file (SPEC §10), read into typed values.

`delivery_config` takes the whole parsed TOML document and reads only these
tables; the others (`[server]`, `[log]`) belong to `generator.service.config`.
Inside its own tables it refuses every key it does not know, every value of
the wrong type and every number that is not positive: a misspelt
`max_atempts` silently ignored would leave an operator trusting retries that
never happen.

Secrets never live in the file. `[smtp] password_env` and `[webhook]
secret_env` name environment variables that the sinks read when they deliver;
a `password` or `secret` key is refused with a hint saying so. A relative
ledger `path` is relative to the configuration file's directory, so the
service finds the same ledger whatever directory it is started from.

Defaults (`DeliveryConfig()`): 4 workers, 5 s per attempt, 8 attempts per
round, back-off from 0.5 s doubling up to 300 s; no SMTP, no webhook, no
ledgers.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit

from mu.generator.errors import InputError
from mu.generator.jsonshape import preview
from mu.generator.layout import shown_path

CHANNELS = ("smtp", "webhook", "ledger")  # every delivery goes out on one of these
MAX_WORKERS = 256
MAX_ATTEMPTS = 1000
MAX_TIMEOUT_SECONDS = 3600.0  # one attempt; longer is a hang, whatever the handler thinks
MAX_BACKOFF_SECONDS = 7 * 86400.0

_DELIVERY_KEYS = {
    "workers", "timeout_seconds", "max_attempts", "backoff_seconds", "backoff_max_seconds"
}
_SMTP_KEYS = {"host", "port", "sender", "starttls", "username", "password_env"}
_WEBHOOK_KEYS = {"url", "secret_env", "timeout_seconds"}
_LEDGER_KEYS = {"path"}
# Keys that would put a secret in the file, and the key that names its variable instead.
_SECRET_KEYS = {"password": "password_env", "secret": "secret_env", "token": "secret_env"}
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
# A mailbox as configuration needs it: something@domain, no space, no header-breaking character.
_ADDRESS = re.compile(r"[^\s@<>\"]{1,64}@[^\s@<>\"]{1,255}")
_HINT = "see docs/serve.example.toml for every key the service reads"


@dataclass(frozen=True)
class SmtpConfig:
    """The mail server notifications are sent through (`[smtp]`)."""

    host: str
    sender: str  # the From address
    port: int = 25
    starttls: bool = False
    username: str | None = None
    password_env: str | None = None  # the environment variable holding the password


@dataclass(frozen=True)
class WebhookConfig:
    """The HTTP(S) endpoint notifications are POSTed to (`[webhook]`)."""

    url: str
    secret_env: str | None = None  # the environment variable holding the HMAC key
    timeout_seconds: float | None = None  # per attempt; the delivery timeout when None


@dataclass(frozen=True)
class LedgerConfig:
    """One ledger a `mu:AuditLogRule` may name (`[ledgers.<name>]`): a JSON-lines file."""

    name: str
    path: Path  # absolute


@dataclass(frozen=True)
class DeliveryConfig:
    """Everything the outbox's workers and sinks need; see the module docstring for defaults."""

    workers: int = 4
    timeout_seconds: float = 5.0
    max_attempts: int = 8
    backoff_seconds: float = 0.5
    backoff_max_seconds: float = 300.0
    smtp: SmtpConfig | None = None
    webhook: WebhookConfig | None = None
    ledgers: Mapping[str, LedgerConfig] = field(default_factory=dict)

    def channels(self, kind: str) -> tuple[str, ...]:
        """The channels an action of `kind` is delivered on: notify by SMTP and/or webhook
        (as configured), ledger to its ledger; none for an unknown kind."""
        if kind == "notify":
            return tuple(
                name
                for name, configured in (("smtp", self.smtp), ("webhook", self.webhook))
                if configured is not None
            )
        return ("ledger",) if kind == "ledger" else ()

    def timeout_for(self, channel: str) -> float:
        """Seconds one attempt on `channel` may take (`[webhook] timeout_seconds` overrides)."""
        if channel == "webhook" and self.webhook and self.webhook.timeout_seconds:
            return self.webhook.timeout_seconds
        return self.timeout_seconds


def delivery_config(table: Mapping[str, Any], *, source: Path) -> DeliveryConfig:
    """The delivery settings in the parsed TOML document `table`, read from `source`.

    Raises `InputError` naming `source` and the key for an unknown key, a value
    of the wrong type or range, a webhook URL that is not http(s), or a secret
    written into the file.
    """
    base = Path(os.path.abspath(source)).parent
    delivery = _table(table, "delivery", source)
    _known(delivery, _DELIVERY_KEYS, "delivery", source)
    defaults = DeliveryConfig()
    backoff = _seconds(delivery, "delivery", "backoff_seconds", source, defaults.backoff_seconds,
                       MAX_BACKOFF_SECONDS)
    backoff_max = _seconds(delivery, "delivery", "backoff_max_seconds", source,
                           defaults.backoff_max_seconds, MAX_BACKOFF_SECONDS)
    if backoff_max < backoff:
        raise _bad(source, "has `delivery.backoff_max_seconds` below `delivery.backoff_seconds`")
    return DeliveryConfig(
        workers=_int(delivery, "delivery", "workers", source, defaults.workers, 1, MAX_WORKERS),
        timeout_seconds=_seconds(delivery, "delivery", "timeout_seconds", source,
                                 defaults.timeout_seconds, MAX_TIMEOUT_SECONDS),
        max_attempts=_int(delivery, "delivery", "max_attempts", source, defaults.max_attempts,
                          1, MAX_ATTEMPTS),
        backoff_seconds=backoff,
        backoff_max_seconds=backoff_max,
        smtp=_smtp(table, source),
        webhook=_webhook(table, source),
        ledgers=_ledgers(table, source, base),
    )


def _smtp(document: Mapping[str, Any], source: Path) -> SmtpConfig | None:
    if "smtp" not in document:
        return None
    smtp = _table(document, "smtp", source)
    _known(smtp, _SMTP_KEYS, "smtp", source)
    sender = _required(smtp, "smtp", "sender", source)
    if not _ADDRESS.fullmatch(sender):
        raise _bad(source, f"has `smtp.sender` = `{preview(sender, 80)}`, not a mail address")
    username = _str(smtp, "smtp", "username", source)
    password_env = _env_name(smtp, "smtp", "password_env", source)
    if (username is None) != (password_env is None):
        raise _bad(source, "needs both `smtp.username` and `smtp.password_env` to log in, "
                           "or neither")
    starttls = smtp.get("starttls", False)
    if not isinstance(starttls, bool):
        raise _bad(source, "needs `true` or `false` for `smtp.starttls`")
    return SmtpConfig(
        host=_host(_required(smtp, "smtp", "host", source), "smtp.host", source),
        sender=sender,
        port=_int(smtp, "smtp", "port", source, 25, 1, 65535),
        starttls=starttls,
        username=username,
        password_env=password_env,
    )


def _webhook(document: Mapping[str, Any], source: Path) -> WebhookConfig | None:
    if "webhook" not in document:
        return None
    webhook = _table(document, "webhook", source)
    _known(webhook, _WEBHOOK_KEYS, "webhook", source)
    url = _required(webhook, "webhook", "url", source)
    try:
        parts: SplitResult | None = urlsplit(url)
        _ = parts.port if parts else None  # raises ValueError when out of range or not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise _bad(source, f"has `webhook.url` = `{preview(url, 80)}`, not an http(s) URL")
    if parts.username is not None or parts.password is not None:
        raise _bad(source, "has credentials in `webhook.url`; secrets never go in the file "
                           "(sign the body with `secret_env` instead)")
    _host(parts.hostname, "webhook.url", source)
    timeout = (
        _seconds(webhook, "webhook", "timeout_seconds", source, 1.0, MAX_TIMEOUT_SECONDS)
        if "timeout_seconds" in webhook else None
    )
    return WebhookConfig(
        url=url, secret_env=_env_name(webhook, "webhook", "secret_env", source),
        timeout_seconds=timeout,
    )


def _ledgers(document: Mapping[str, Any], source: Path, base: Path) -> dict[str, LedgerConfig]:
    ledgers = _table(document, "ledgers", source)
    out: dict[str, LedgerConfig] = {}
    for name, entry in ledgers.items():
        where = f"ledgers.{name}" if re.fullmatch(r"[A-Za-z0-9_-]+", name) else (
            f'ledgers."{preview(name, 40)}"')
        if not name or len(name) > 256 or not name.isprintable():
            raise _bad(source, f"has a ledger name `{preview(name, 40)}` that is empty, "
                               "longer than 256 characters or not printable")
        if not isinstance(entry, dict):
            raise _bad(source, f"has `{where}` as a value, not a table `[{where}]`")
        _known(entry, _LEDGER_KEYS, where, source)
        raw = _required(entry, where, "path", source)
        out[name] = LedgerConfig(name, Path(os.path.abspath(base / os.path.expanduser(raw))))
    return out


def _bad(source: Path, what: str) -> InputError:
    return InputError(f"the service configuration `{shown_path(source)}` {what}", hint=_HINT)


def _table(document: Mapping[str, Any], name: str, source: Path) -> Mapping[str, Any]:
    value = document.get(name, {})
    if not isinstance(value, dict):
        raise _bad(source, f"has `{name}` as a value, not a table `[{name}]`")
    return value


def _known(table: Mapping[str, Any], keys: set[str], name: str, source: Path) -> None:
    for key in sorted(table):
        if key in keys:
            continue
        if key in _SECRET_KEYS:
            raise InputError(
                f"the service configuration `{shown_path(source)}` holds a secret in "
                f"`{name}.{key}`",
                hint=f"secrets never go in the file: set `{_SECRET_KEYS[key]}` to the name of "
                "an environment variable that holds it",
            )
        raise _bad(source, f"has an unknown key `{preview(key, 40)}` in `[{name}]`")


def _str(table: Mapping[str, Any], name: str, key: str, source: Path) -> str | None:
    """The string at `key`, or None when the key is absent."""
    return _required(table, name, key, source) if key in table else None


def _required(table: Mapping[str, Any], name: str, key: str, source: Path) -> str:
    """The string at `key`, which must be there."""
    if key not in table:
        raise _bad(source, f"needs `{name}.{key}`")
    value = table[key]
    if not isinstance(value, str) or not value or len(value) > 4096 or not value.isprintable():
        raise _bad(source, f"needs a non-empty, printable string for `{name}.{key}`")
    return value


def _env_name(table: Mapping[str, Any], name: str, key: str, source: Path) -> str | None:
    value = _str(table, name, key, source)
    if value is not None and not _ENV_NAME.fullmatch(value):
        raise _bad(source, f"has `{name}.{key}` = `{preview(value, 40)}`, not the name of an "
                           "environment variable (letters, digits and `_`)")
    return value


def _host(value: str, key: str, source: Path) -> str:
    if len(value) > 255 or any(c.isspace() or c in "/\\@" for c in value):
        raise _bad(source, f"has `{key}` = `{preview(value, 80)}`, not a host name or address")
    return value


def _int(
    table: Mapping[str, Any], name: str, key: str, source: Path, default: int, low: int, high: int
) -> int:
    value = table.get(key, default)
    # bool is an int in Python; `workers = true` is a mistake, not one worker.
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _bad(source, f"needs a whole number from {low} to {high} for `{name}.{key}`")
    return value


def _seconds(
    table: Mapping[str, Any], name: str, key: str, source: Path, default: float, high: float
) -> float:
    value = table.get(key, default)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 < value <= high
    ):
        raise _bad(source, f"needs a number of seconds above 0 (at most {high:g}) for "
                           f"`{name}.{key}`")
    return float(value)

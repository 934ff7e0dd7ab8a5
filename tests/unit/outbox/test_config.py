"""`delivery_config`: the delivery tables of the service TOML, every mistake named."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from mu.generator.errors import InputError
from mu.generator.outbox import DeliveryConfig, delivery_config

SOURCE = Path("/etc/mu/serve.toml")


def parse(text: str, source: Path = SOURCE) -> DeliveryConfig:
    return delivery_config(tomllib.loads(text), source=source)


def refused(text: str) -> InputError:
    with pytest.raises(InputError) as caught:
        parse(text)
    assert "/etc/mu/serve.toml" in caught.value.message
    return caught.value


def test_defaults_without_tables_and_other_tables_ignored() -> None:
    cfg = parse('[server]\nport = 1\n[log]\ncheckpoint_every = 5\n')
    assert cfg == DeliveryConfig()
    assert (cfg.workers, cfg.timeout_seconds, cfg.max_attempts) == (4, 5.0, 8)
    assert cfg.channels("notify") == ()
    assert cfg.channels("ledger") == ("ledger",)


def test_full_configuration() -> None:
    cfg = parse(
        """
        [delivery]
        workers = 2
        timeout_seconds = 1.5
        max_attempts = 3
        backoff_seconds = 1
        backoff_max_seconds = 60
        [smtp]
        host = "mail.example.com"
        port = 587
        sender = "mu@example.com"
        starttls = true
        username = "mu"
        password_env = "MU_SMTP_PASSWORD"
        [webhook]
        url = "https://hooks.example.com/mu?x=1"
        secret_env = "MU_HOOK_SECRET"
        timeout_seconds = 2
        [ledgers.audit]
        path = "ledgers/audit.jsonl"
        [ledgers.sox]
        path = "/var/lib/mu/sox.jsonl"
        """
    )
    assert (cfg.workers, cfg.timeout_seconds, cfg.max_attempts) == (2, 1.5, 3)
    assert (cfg.backoff_seconds, cfg.backoff_max_seconds) == (1.0, 60.0)
    assert cfg.smtp is not None and cfg.smtp.port == 587 and cfg.smtp.starttls
    assert cfg.smtp.password_env == "MU_SMTP_PASSWORD"
    assert cfg.webhook is not None and cfg.webhook.secret_env == "MU_HOOK_SECRET"
    assert cfg.channels("notify") == ("smtp", "webhook")
    assert cfg.timeout_for("webhook") == 2.0 and cfg.timeout_for("smtp") == 1.5
    # A relative ledger path is relative to the configuration file's directory.
    assert cfg.ledgers["audit"].path == Path("/etc/mu/ledgers/audit.jsonl")
    assert cfg.ledgers["sox"].path == Path("/var/lib/mu/sox.jsonl")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[delivery]\nworkers = 0", "delivery.workers"),
        ("[delivery]\nworkers = true", "delivery.workers"),
        ("[delivery]\nworkers = 1.5", "delivery.workers"),
        ("[delivery]\nmax_attempts = -1", "delivery.max_attempts"),
        ("[delivery]\ntimeout_seconds = 0", "delivery.timeout_seconds"),
        ("[delivery]\ntimeout_seconds = nan", "delivery.timeout_seconds"),
        ("[delivery]\ntimeout_seconds = \"5\"", "delivery.timeout_seconds"),
        ("[delivery]\nbackoff_seconds = -0.5", "delivery.backoff_seconds"),
        ("[delivery]\nbackoff_seconds = 10\nbackoff_max_seconds = 5", "backoff_max_seconds"),
        ("[delivery]\nmax_atempts = 3", "max_atempts"),
        ("delivery = 3", "[delivery]"),
        ("[smtp]\nhost = \"h\"", "smtp.sender"),
        ("[smtp]\nsender = \"a@b\"", "smtp.host"),
        ("[smtp]\nhost = \"h\"\nsender = \"not an address\"", "smtp.sender"),
        ("[smtp]\nhost = \"h\"\nsender = \"a@b\"\nport = 70000", "smtp.port"),
        ("[smtp]\nhost = \"h\"\nsender = \"a@b\"\nstarttls = \"yes\"", "smtp.starttls"),
        ("[smtp]\nhost = \"h\"\nsender = \"a@b\"\nusername = \"u\"", "smtp.password_env"),
        ("[smtp]\nhost = \"h\"\nsender = \"a@b\"\nusername = \"u\"\npassword_env = \"A-B\"",
         "smtp.password_env"),
        ("[smtp]\nhost = \"h\"\nsender = \"a@b\"\nhelo = \"x\"", "helo"),
        ("[webhook]\nurl = \"ftp://example.com/\"", "webhook.url"),
        ("[webhook]\nurl = \"file:///etc/passwd\"", "webhook.url"),
        ("[webhook]\nurl = \"http://\"", "webhook.url"),
        ("[webhook]\nurl = \"http://example.com:99999/\"", "webhook.url"),
        ("[webhook]\nurl = \"https://user:pw@example.com/\"", "credentials"),
        ("[webhook]\nurl = \"https://example.com/\"\ntimeout_seconds = 0", "timeout_seconds"),
        ("[webhook]\nsecret_env = \"S\"", "webhook.url"),
        ("[ledgers]\naudit = \"x.jsonl\"", "ledgers.audit"),
        ("[ledgers.audit]\nfile = \"x.jsonl\"", "file"),
        ("[ledgers.audit]\npath = \"\"", "ledgers.audit.path"),
        ("[ledgers.audit]\npath = 3", "ledgers.audit.path"),
    ],
)
def test_mistakes_are_refused_naming_the_key(text: str, words: str) -> None:
    err = refused(text)
    assert words in err.message
    assert err.hint


@pytest.mark.parametrize(
    ("text", "instead"),
    [
        ("[smtp]\nhost = \"h\"\nsender = \"a@b\"\npassword = \"hunter2\"", "password_env"),
        ("[webhook]\nurl = \"https://example.com/\"\nsecret = \"s3cr3t\"", "secret_env"),
    ],
)
def test_secrets_in_the_file_are_refused(text: str, instead: str) -> None:
    err = refused(text)
    assert "secret" in err.message
    assert instead in err.hint
    assert "hunter2" not in err.message and "s3cr3t" not in err.message


def test_relative_source_resolves_against_its_directory(tmp_path: Path, monkeypatch:
                                                        pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = parse('[ledgers.a]\npath = "a.jsonl"\n', source=Path("conf/serve.toml"))
    assert cfg.ledgers["a"].path == tmp_path / "conf" / "a.jsonl"

"""The service configuration: defaults, the shipped example, and every refusal naming its key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mu.generator.errors import InputError
from mu.generator.service.config import ServiceConfig, load_config

EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "serve.example.toml"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "serve.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_no_file_means_the_defaults() -> None:
    assert load_config(None) == ServiceConfig()


def test_the_shipped_example_reads() -> None:
    config = load_config(EXAMPLE)
    assert config.port == 8181
    assert config.runtime_key == Path("/etc/mu/runtime.pem")
    assert config.log.checkpoint_every == 1000
    assert "sox-ledger" in config.delivery.ledgers


def test_relative_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, '[server]\nruntime_key = "keys/runtime.pem"\n'))
    assert config.runtime_key == Path(os.path.abspath(tmp_path / "keys" / "runtime.pem"))


def test_the_command_line_overrides_the_file(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, '[server]\nport = 9000\nhost = "0.0.0.0"\n'))
    out = config.overridden(host=None, port=9100, log_dir=tmp_path / "log")
    assert (out.host, out.port, out.log_dir) == ("0.0.0.0", 9100, tmp_path / "log")


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[server]\nchekpoint_every = 3\n", "`chekpoint_every`"),
        ("[log]\ncheckpoint_every = 0\n", "`checkpoint_every`"),
        ("[server]\nport = true\n", "`port`"),
        ("[server]\nport = 70000\n", "`port`"),
        ("[server]\nreload_seconds = -1\n", "`reload_seconds`"),
        ("[servre]\n", "`[servre]`"),
        ("server = 3\n", "`server`"),
        ("[server\n", "not valid TOML"),
    ],
)
def test_a_bad_file_names_what_is_wrong(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(InputError) as caught:
        load_config(_write(tmp_path, text))
    assert named in caught.value.message
    assert caught.value.hint


def test_a_fifo_is_refused_without_waiting(tmp_path: Path) -> None:
    fifo = tmp_path / "serve.toml"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        load_config(fifo)

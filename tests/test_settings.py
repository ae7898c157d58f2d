"""Settings precedence: defaults < TOML file (``ALTO_CONFIG``) < ``ALTO_*`` < flags."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from altostratus.settings import Settings, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``ALTO_*`` from the caller's shell."""
    for name in list(os.environ):
        if name.startswith("ALTO_"):
            monkeypatch.delenv(name)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "alto.toml"
    path.write_text('port = 9001\nregion_name = "FromToml"\nsession_timeout = 600\n')
    return path


def test_defaults() -> None:
    settings = load_settings()
    assert (settings.port, settings.region_name, settings.session_timeout) == (8080, "Local", 1800)
    assert settings.resolved_key_file == Path("data") / "secret.key"
    assert settings.endpoint == "http://127.0.0.1:8080/client/api"


def test_toml_overrides_defaults(monkeypatch: pytest.MonkeyPatch, config_file: Path) -> None:
    monkeypatch.setenv("ALTO_CONFIG", str(config_file))
    settings = load_settings()
    assert (settings.port, settings.region_name, settings.session_timeout) == (
        9001,
        "FromToml",
        600,
    )


def test_config_file_argument_is_the_same_as_alto_config(config_file: Path) -> None:
    assert load_settings(config_file).region_name == "FromToml"


def test_settings_record_their_file_and_leave_the_environment_alone(
    monkeypatch: pytest.MonkeyPatch, config_file: Path, tmp_path: Path
) -> None:
    """Whoever needs the file again (``alto config show``, the server's workers) asks the
    settings; the process environment stays what the caller gave."""
    before = dict(os.environ)
    assert load_settings(config_file).config == config_file
    assert load_settings().config is None
    assert dict(os.environ) == before
    other = tmp_path / "other.toml"
    other.write_text('region_name = "FromOther"\n')
    monkeypatch.setenv("ALTO_CONFIG", str(other))
    assert load_settings().config == other
    flagged = load_settings(config_file)
    assert (flagged.config, flagged.region_name) == (config_file, "FromToml"), "--config wins"
    monkeypatch.setenv("ALTO_CONFIG", "")
    assert load_settings().config is None, "an empty ALTO_CONFIG is no file"


def test_environment_overrides_toml(monkeypatch: pytest.MonkeyPatch, config_file: Path) -> None:
    monkeypatch.setenv("ALTO_CONFIG", str(config_file))
    monkeypatch.setenv("ALTO_PORT", "9002")
    settings = load_settings()
    assert settings.port == 9002
    assert settings.region_name == "FromToml", "a value only in the file still applies"


def test_flags_override_environment(monkeypatch: pytest.MonkeyPatch, config_file: Path) -> None:
    monkeypatch.setenv("ALTO_CONFIG", str(config_file))
    monkeypatch.setenv("ALTO_PORT", "9002")
    settings = load_settings(port=9003, region_name=None)
    assert settings.port == 9003
    assert settings.region_name == "FromToml", "a flag given as None is not given"


def test_invalid_values_are_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ALTO_PORT", "70000")
    with pytest.raises(ValidationError, match="port"):
        load_settings()
    monkeypatch.delenv("ALTO_PORT")
    unknown = tmp_path / "typo.toml"
    unknown.write_text("prot = 1\n")
    monkeypatch.setenv("ALTO_CONFIG", str(unknown))
    with pytest.raises(ValidationError, match="prot"):
        load_settings()


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(ValidationError):
        settings.port = 1  # type: ignore[misc]


def test_derived_values(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, host="0.0.0.0", port=8443)
    assert settings.endpoint == "http://127.0.0.1:8443/client/api"
    assert settings.resolved_database_url == f"sqlite:///{(tmp_path / 'altostratus.db').resolve()}"
    assert settings.resolved_key_file == tmp_path / "secret.key"
    public = Settings(public_endpoint="https://cloud.example/client/api")
    assert public.endpoint == "https://cloud.example/client/api"

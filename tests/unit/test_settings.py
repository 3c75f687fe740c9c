"""`resolve_settings`: explicit > env > `~/.opik.config` > default, validation, secrets, exporter choice."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import opik_otel
from opik_otel import ConfigurationError
from opik_otel._settings import CLOUD_URL, DEFAULT_PROJECT, ENV_VARS, Settings, resolve_settings

SECRET = "sk-SUPER-SECRET-KEY-42"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    """No OPIK_*/OTEL_* variables, and a HOME with no `.opik.config`."""
    for name in list(os.environ):
        if name.startswith(("OPIK_", "OTEL_")):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    return home


def write_config(path: Path, **values: str) -> Path:
    lines = ["[opik]"] + [f"{key} = {value}" for key, value in values.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def config_file(tmp_path, monkeypatch):
    path = write_config(
        tmp_path / "opik.config",
        url_override="http://file.example:5173/api/",
        api_key="file-key",
        workspace="file-ws",
        project_name="file-project",
    )
    monkeypatch.setenv("OPIK_CONFIG_PATH", str(path))
    return path


# --- precedence and sources --------------------------------------------------------------


def test_defaults():
    settings = resolve_settings()
    assert settings.project_name == DEFAULT_PROJECT
    assert settings.url is None
    assert settings.api_key is None
    assert settings.workspace is None
    assert settings.exporter is None
    assert settings.capture_content is True
    assert settings.track_disable is False
    assert settings.check_tls_certificate is True
    assert settings.max_queue_size == 2048
    assert settings.max_export_batch_size == 512
    assert settings.price_overrides == {}
    assert settings.sources == {}
    assert settings.opik_url == CLOUD_URL
    assert settings.opik_workspace == "default"  # the cloud's default workspace


def test_local_store_dir_follows_xdg_data_home(tmp_path):
    assert resolve_settings().local_store_dir == tmp_path / "xdg" / "opik-otel"


def test_config_file_is_read(config_file):
    settings = resolve_settings()
    assert settings.url == "http://file.example:5173/api/"
    assert settings.api_key.get_secret_value() == "file-key"
    assert settings.workspace == "file-ws"
    assert settings.project_name == "file-project"
    assert settings.sources == {
        "url": "config file",
        "api_key": "config file",
        "workspace": "config file",
        "project_name": "config file",
    }


def test_home_opik_config_is_read_without_opik_config_path(clean_environment):
    write_config(clean_environment / ".opik.config", url_override="http://home.example/api", workspace="home-ws")
    settings = resolve_settings()
    assert settings.url == "http://home.example/api/"
    assert settings.workspace == "home-ws"
    assert settings.sources["url"] == "config file"


def test_env_beats_config_file(config_file, monkeypatch):
    monkeypatch.setenv("OPIK_URL_OVERRIDE", "http://env.example/api/")
    monkeypatch.setenv("OPIK_API_KEY", "env-key")
    settings = resolve_settings()
    assert settings.url == "http://env.example/api/"
    assert settings.api_key.get_secret_value() == "env-key"
    assert settings.workspace == "file-ws"
    assert settings.sources["url"] == "env OPIK_URL_OVERRIDE"
    assert settings.sources["api_key"] == "env OPIK_API_KEY"
    assert settings.sources["workspace"] == "config file"


def test_explicit_beats_env_beats_config_file_beats_default(config_file, monkeypatch):
    monkeypatch.setenv("OPIK_URL_OVERRIDE", "http://env.example/api/")
    monkeypatch.setenv("OPIK_WORKSPACE", "env-ws")
    monkeypatch.setenv("OPIK_API_KEY", "env-key")
    settings = resolve_settings(url="http://arg.example/api/", api_key=None, project_name=None)

    assert settings.url == "http://arg.example/api/"  # argument
    assert settings.workspace == "env-ws"  # env
    assert settings.api_key.get_secret_value() == "env-key"  # env (None arguments do not count)
    assert settings.project_name == "file-project"  # config file
    assert settings.check_tls_certificate is True  # default
    assert settings.sources["url"] == "argument"
    assert settings.sources["workspace"] == "env OPIK_WORKSPACE"
    assert settings.sources["api_key"] == "env OPIK_API_KEY"
    assert settings.sources["project_name"] == "config file"
    assert "check_tls_certificate" not in settings.sources


def test_empty_env_value_is_ignored(monkeypatch):
    monkeypatch.setenv("OPIK_PROJECT_NAME", "")
    settings = resolve_settings()
    assert settings.project_name == DEFAULT_PROJECT
    assert "project_name" not in settings.sources


@pytest.mark.parametrize(
    "raw, expected",
    [("true", True), ("1", True), ("YES", True), (" on ", True), ("false", False), ("0", False), ("no", False)],
)
def test_boolean_env_values(monkeypatch, raw, expected):
    monkeypatch.setenv("OPIK_TRACK_DISABLE", raw)
    assert resolve_settings().track_disable is expected


@pytest.mark.parametrize("raw, expected", [("span_only", True), ("no_content", False), ("event_only", False)])
def test_capture_content_accepts_the_standard_values(monkeypatch, raw, expected):
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", raw)
    settings = resolve_settings()
    assert settings.capture_content is expected
    assert settings.sources["capture_content"] == "env OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"


def test_numeric_env_values(monkeypatch):
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "100")
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "50")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "250")
    settings = resolve_settings()
    assert (settings.max_queue_size, settings.max_export_batch_size, settings.schedule_delay_millis) == (100, 50, 250)


def test_url_gets_a_trailing_slash():
    assert resolve_settings(url="http://localhost:5173/api").url == "http://localhost:5173/api/"
    assert resolve_settings(url="https://x.example/api/").url == "https://x.example/api/"


def test_config_file_value_with_a_percent_sign(tmp_path, monkeypatch):
    """The Opik SDK reads the file with `interpolation=None`: a '%' in a key is just a character."""
    path = write_config(tmp_path / "pct.config", api_key="abc%def", workspace="ws")
    monkeypatch.setenv("OPIK_CONFIG_PATH", str(path))
    settings = resolve_settings()
    assert settings.api_key.get_secret_value() == "abc%def"
    assert settings.workspace == "ws"


def test_unreadable_config_file_is_ignored(tmp_path, monkeypatch):
    path = tmp_path / "broken.config"
    path.write_text("this is not = an ini file\n[[[\n")
    monkeypatch.setenv("OPIK_CONFIG_PATH", str(path))
    assert resolve_settings().url is None


def test_config_file_without_opik_section_is_ignored(tmp_path, monkeypatch):
    path = tmp_path / "other.config"
    path.write_text("[other]\nurl_override = http://x.example/\n")
    monkeypatch.setenv("OPIK_CONFIG_PATH", str(path))
    assert resolve_settings().url is None


def test_price_overrides_from_json_env_and_file(monkeypatch, tmp_path):
    monkeypatch.setenv("OPIK_OTEL_PRICE_OVERRIDES", json.dumps({"m1": {"input": 1.0, "output": 2.0}}))
    settings = resolve_settings()
    assert settings.price_overrides["m1"].input == 1.0
    assert settings.sources["price_overrides"] == "env OPIK_OTEL_PRICE_OVERRIDES"

    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"m2": {"input": 3.0, "output": 4.0, "cache_read": 0.5}}))
    monkeypatch.setenv("OPIK_OTEL_PRICE_OVERRIDES", str(path))
    assert resolve_settings().price_overrides["m2"].cache_read == 0.5
    assert resolve_settings(price_overrides={"m3": {"input": 1, "output": 1}}).price_overrides["m3"].output == 1


def test_settings_are_comparable():
    """`configure()` relies on equality to detect a repeated call."""
    assert resolve_settings(project_name="a", url="http://x.example/") == resolve_settings(project_name="a", url="http://x.example/")
    assert resolve_settings(project_name="a") != resolve_settings(project_name="b")


# --- errors name the setting -------------------------------------------------------------


def _error(**kwargs) -> str:
    with pytest.raises(ConfigurationError) as info:
        resolve_settings(**kwargs)
    assert isinstance(info.value, ValueError)
    return str(info.value)


@pytest.mark.parametrize("url", ["not a url", "ftp://x", "http://", "localhost:5173"])
def test_invalid_url_argument(url):
    message = _error(url=url)
    assert "url" in message
    assert "OPIK_URL_OVERRIDE" in message
    assert "argument" in message  # where the bad value came from


def test_invalid_url_env(monkeypatch):
    monkeypatch.setenv("OPIK_URL_OVERRIDE", "ftp://x")
    message = _error()
    assert "OPIK_URL_OVERRIDE" in message and "url" in message


def test_invalid_url_config_file(tmp_path, monkeypatch):
    monkeypatch.setenv("OPIK_CONFIG_PATH", str(write_config(tmp_path / "c", url_override="not a url")))
    message = _error()
    assert "url" in message and "config file" in message


def test_unknown_exporter():
    message = _error(exporter="zipkin")
    assert "exporter" in message
    assert "OPIK_OTEL_EXPORTER" in message


def test_unknown_exporter_env(monkeypatch):
    monkeypatch.setenv("OPIK_OTEL_EXPORTER", "jaeger")
    assert "OPIK_OTEL_EXPORTER" in _error()


def test_negative_max_queue_size():
    message = _error(max_queue_size=-1)
    assert "max_queue_size" in message and "OTEL_BSP_MAX_QUEUE_SIZE" in message


def test_negative_max_queue_size_env(monkeypatch):
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "-5")
    message = _error()
    assert "max_queue_size" in message and "OTEL_BSP_MAX_QUEUE_SIZE" in message


@pytest.mark.parametrize("size", [0, -1])
def test_max_export_batch_size_must_be_positive(size):
    message = _error(max_export_batch_size=size)
    assert "max_export_batch_size" in message and "OTEL_BSP_MAX_EXPORT_BATCH_SIZE" in message


@pytest.mark.parametrize("size", [1, 1000])
def test_max_export_batch_size_bounds_are_valid(size):
    assert resolve_settings(max_export_batch_size=size).max_export_batch_size == size


@pytest.mark.parametrize("size", [1001, 2048, 100_000])
def test_max_export_batch_size_above_1000_is_clamped(size, monkeypatch):
    """Valid for the SDK (any positive size up to the queue): clamped to the Opik client's 1,000."""
    assert resolve_settings(max_export_batch_size=size).max_export_batch_size == 1000
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", str(size))
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", str(max(size, 2048)))
    settings = resolve_settings()
    assert settings.max_export_batch_size == 1000
    assert settings.sources["max_export_batch_size"] == "env OTEL_BSP_MAX_EXPORT_BATCH_SIZE"


def test_max_export_batch_size_above_the_queue_is_clamped_to_the_queue(monkeypatch):
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "100")  # the default batch size (512) no longer fits
    assert (resolve_settings().max_queue_size, resolve_settings().max_export_batch_size) == (100, 100)
    assert resolve_settings(max_export_batch_size=2048).max_export_batch_size == 100


@pytest.mark.parametrize("delay", ["0", "-1"])
def test_schedule_delay_must_be_positive_as_in_the_sdk(monkeypatch, delay):
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", delay)
    message = _error()
    assert message == "invalid setting: env OTEL_BSP_SCHEDULE_DELAY (schedule_delay_millis): Input should be greater than 0"
    monkeypatch.delenv("OTEL_BSP_SCHEDULE_DELAY")
    assert "argument schedule_delay_millis=" in _error(schedule_delay_millis=0)


def test_an_error_from_the_environment_names_the_variable_only(monkeypatch):
    """Under zero code there is no configure() call: the message names what to set, not an argument."""
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "-5")
    message = _error()
    assert message == "invalid setting: env OTEL_BSP_MAX_QUEUE_SIZE (max_queue_size): Input should be greater than 0"
    assert "argument" not in message and "configure" not in message


def test_an_error_from_an_argument_names_the_argument_and_its_variable():
    assert _error(max_queue_size=-1) == (
        "invalid setting: argument max_queue_size= (also settable as env OTEL_BSP_MAX_QUEUE_SIZE): Input should be greater than 0"
    )


def test_an_error_from_the_config_file_names_the_file_and_key(tmp_path, monkeypatch):
    path = write_config(tmp_path / "c", url_override="not a url")
    monkeypatch.setenv("OPIK_CONFIG_PATH", str(path))
    message = _error()
    assert message.startswith(f"invalid setting: url_override in the config file {path} (url): Value error, must be an http(s) URL")


def test_non_numeric_env_number(monkeypatch):
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "soon")
    message = _error()
    assert "schedule_delay_millis" in message and "OTEL_BSP_SCHEDULE_DELAY" in message


def test_bad_boolean_env(monkeypatch):
    monkeypatch.setenv("OPIK_TRACK_DISABLE", "maybe")
    message = _error()
    assert "track_disable" in message
    assert "OPIK_TRACK_DISABLE" in message


@pytest.mark.parametrize("raw", ["span_only", "SPAN_AND_EVENT", "no_content", "event_only", "t", "y"])
def test_track_disable_takes_booleans_only(monkeypatch, raw):
    monkeypatch.setenv("OPIK_TRACK_DISABLE", raw)
    message = _error()
    assert message == "invalid setting: env OPIK_TRACK_DISABLE (track_disable): Value error, must be a boolean: true/false, 1/0, yes/no or on/off"


def test_capture_content_rejects_an_unknown_value(monkeypatch):
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "t")
    assert "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT" in _error()


def test_bad_boolean_tls_env(monkeypatch):
    monkeypatch.setenv("OPIK_CHECK_TLS_CERTIFICATE", "perhaps")
    assert "OPIK_CHECK_TLS_CERTIFICATE" in _error()


def test_bad_price_overrides_json_env(monkeypatch):
    monkeypatch.setenv("OPIK_OTEL_PRICE_OVERRIDES", "{not json")
    message = _error()
    assert "price_overrides" in message
    assert "OPIK_OTEL_PRICE_OVERRIDES" in message


@pytest.mark.parametrize(
    "overrides",
    [{"m": {"input": 1.0}}, {"m": {"input": -1, "output": 1}}, {"m": {"input": 1, "output": 1, "extra": 2}}, "[1, 2]"],
)
def test_bad_price_overrides_argument(overrides):
    message = _error(price_overrides=overrides)
    assert "price_overrides" in message and "OPIK_OTEL_PRICE_OVERRIDES" in message


def test_empty_project_name():
    message = _error(project_name="   ")
    assert "project_name" in message and "OPIK_PROJECT_NAME" in message


def test_unknown_argument_is_named():
    message = _error(apikey="x")
    assert "apikey" in message


def test_several_problems_are_all_reported():
    message = _error(url="ftp://x", max_queue_size=0)
    assert "url" in message and "max_queue_size" in message


def test_configure_raises_configuration_error():
    with pytest.raises(opik_otel.ConfigurationError, match="OPIK_URL_OVERRIDE"):
        opik_otel.configure(url="not a url")


# --- the API key stays secret ------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(url="not a url"),
        dict(exporter="nope"),
        dict(max_queue_size=-1),
        dict(max_export_batch_size=0),
        dict(price_overrides="{bad"),
        dict(project_name=""),
        dict(url="ftp://x", workspace=123),
    ],
)
def test_api_key_never_in_an_error_message(kwargs):
    with pytest.raises(ConfigurationError) as info:
        resolve_settings(api_key=SECRET, **kwargs)
    assert SECRET not in str(info.value)
    assert SECRET not in repr(info.value)
    assert "SUPER-SECRET" not in str(info.value)


def test_api_key_from_env_never_in_an_error_message(monkeypatch):
    monkeypatch.setenv("OPIK_API_KEY", SECRET)
    monkeypatch.setenv("OPIK_TRACK_DISABLE", "maybe")
    with pytest.raises(ConfigurationError) as info:
        resolve_settings()
    assert SECRET not in str(info.value)


def test_api_key_of_the_wrong_type_is_not_echoed():
    with pytest.raises(ConfigurationError) as info:
        resolve_settings(api_key=["sk", SECRET])
    assert "api_key" in str(info.value)
    assert SECRET not in str(info.value)


def test_api_key_never_in_repr_or_str_or_dump():
    settings = resolve_settings(api_key=SECRET, url="http://localhost:5173/api/", workspace="ws")
    assert settings.api_key.get_secret_value() == SECRET
    for text in (repr(settings), str(settings), settings.model_dump_json(), repr(settings.model_dump()), repr(settings.sources)):
        assert SECRET not in text


def test_api_key_from_config_file_never_in_repr(tmp_path, monkeypatch):
    monkeypatch.setenv("OPIK_CONFIG_PATH", str(write_config(tmp_path / "c", api_key=SECRET)))
    settings = resolve_settings()
    assert SECRET not in repr(settings)


# --- which exporter ----------------------------------------------------------------------


def test_resolved_exporter_local_by_default():
    assert resolve_settings().resolved_exporter == "local"


def test_resolved_exporter_opik_when_url_set():
    assert resolve_settings(url="http://localhost:5173/api/").resolved_exporter == "opik"


def test_resolved_exporter_opik_when_api_key_set():
    settings = resolve_settings(api_key="k")
    assert settings.resolved_exporter == "opik"
    assert settings.opik_url == CLOUD_URL


def test_resolved_exporter_opik_from_env_and_config(monkeypatch, config_file):
    assert resolve_settings().resolved_exporter == "opik"  # the config file gives url and key


@pytest.mark.parametrize("var", ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"])
def test_resolved_exporter_otlp_when_endpoint_set(monkeypatch, var):
    monkeypatch.setenv(var, "http://collector:4318")
    assert resolve_settings().resolved_exporter == "otlp"


def test_opik_server_wins_over_otlp_endpoint(monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    assert resolve_settings(url="http://localhost:5173/api/").resolved_exporter == "opik"


@pytest.mark.parametrize("name", ["opik", "otlp", "opik-otlp", "local", "console", "none"])
def test_explicit_exporter_wins(monkeypatch, name):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    assert resolve_settings(exporter=name, url="http://localhost:5173/api/").resolved_exporter == name


def test_exporter_from_env_wins(monkeypatch):
    monkeypatch.setenv("OPIK_OTEL_EXPORTER", "console")
    monkeypatch.setenv("OPIK_API_KEY", "k")
    settings = resolve_settings()
    assert settings.resolved_exporter == "console"
    assert settings.sources["exporter"] == "env OPIK_OTEL_EXPORTER"


@pytest.mark.parametrize("raw, expected", [("console", "console"), ("none", "none"), ("otlp", "otlp"), ("opik", "opik"), (" Console ", "console")])
def test_otel_traces_exporter_is_honoured(monkeypatch, raw, expected):
    monkeypatch.setenv("OPIK_URL_OVERRIDE", "http://localhost:5173/api/")  # would choose opik
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", raw)
    settings = resolve_settings()
    assert settings.resolved_exporter == expected
    assert settings.sources["exporter"] == "env OTEL_TRACES_EXPORTER"


def test_otel_traces_exporter_list_takes_the_first_supported_name(monkeypatch, caplog):
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin, console,otlp")
    with caplog.at_level("WARNING", logger="opik_otel"):
        assert resolve_settings().resolved_exporter == "console"
    assert [r.getMessage() for r in caplog.records] == [
        "opik-otel: OTEL_TRACES_EXPORTER='zipkin, console,otlp': exporting with 'console' only (one exporter; ignored: zipkin, otlp)"
    ]


def test_otel_traces_exporter_without_a_supported_name_is_an_error(monkeypatch):
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin")
    message = _error()
    assert message.startswith("invalid setting: env OTEL_TRACES_EXPORTER (exporter): ")
    assert "otlp, console, none, opik" in message


def test_opik_otel_exporter_and_the_argument_beat_otel_traces_exporter(monkeypatch):
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    monkeypatch.setenv("OPIK_OTEL_EXPORTER", "local")
    assert resolve_settings().resolved_exporter == "local"
    assert resolve_settings().sources["exporter"] == "env OPIK_OTEL_EXPORTER"
    monkeypatch.delenv("OPIK_OTEL_EXPORTER")
    assert resolve_settings(exporter="none").resolved_exporter == "none"


def test_workspace_is_not_defaulted_for_a_self_hosted_url():
    assert resolve_settings(url="http://localhost:5173/api/").opik_workspace is None
    assert resolve_settings(url="http://localhost:5173/api/", workspace="w").opik_workspace == "w"


def test_every_setting_has_an_env_var():
    fields = set(Settings.model_fields) - {"sources"}
    assert fields == set(ENV_VARS)


def test_an_unsupported_otel_traces_exporter_is_no_error_when_opik_otel_exporter_decides(monkeypatch):
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin")
    assert resolve_settings(exporter="local").resolved_exporter == "local"
    monkeypatch.setenv("OPIK_OTEL_EXPORTER", "console")
    assert resolve_settings().resolved_exporter == "console"

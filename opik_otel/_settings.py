"""Settings: explicit arguments, then environment variables, then `~/.opik.config`, then defaults.

Every setting names its argument and its environment variable, so an invalid value fails
at `configure()` with a message saying which one to fix.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable, Literal, Optional
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from opik_otel._pricing import ModelPrices, parse_overrides

CLOUD_URL = "https://www.comet.com/opik/api/"
DEFAULT_PROJECT = "Default Project"
ExporterName = Literal["opik", "otlp", "opik-otlp", "local", "console", "none"]
EXPORTERS = ("opik", "otlp", "opik-otlp", "local", "console", "none")

# setting → environment variable (the Opik SDK's names where it has one)
ENV_VARS = {
    "project_name": "OPIK_PROJECT_NAME",
    "url": "OPIK_URL_OVERRIDE",
    "api_key": "OPIK_API_KEY",
    "workspace": "OPIK_WORKSPACE",
    "exporter": "OPIK_OTEL_EXPORTER",
    "capture_content": "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
    "track_disable": "OPIK_TRACK_DISABLE",
    "check_tls_certificate": "OPIK_CHECK_TLS_CERTIFICATE",
    "max_queue_size": "OTEL_BSP_MAX_QUEUE_SIZE",
    "max_export_batch_size": "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    "schedule_delay_millis": "OTEL_BSP_SCHEDULE_DELAY",
    "export_timeout_millis": "OTEL_BSP_EXPORT_TIMEOUT",
    "local_store_dir": "OPIK_OTEL_LOCAL_STORE_DIR",
    "price_overrides": "OPIK_OTEL_PRICE_OVERRIDES",
    "spool_dir": "OPIK_OTEL_SPOOL_DIR",
    "spool_max_mb": "OPIK_OTEL_SPOOL_MAX_MB",
    "max_payload_size_mb": "OPIK_MAX_PAYLOAD_SIZE_MB",
    "shutdown_timeout_millis": "OPIK_OTEL_SHUTDOWN_TIMEOUT",
    "redact": "-",
}
# keys of the Opik SDK's config file section [opik]
_CONFIG_FILE_KEYS = {"url_override": "url", "api_key": "api_key", "workspace": "workspace", "project_name": "project_name"}
_OTLP_ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
_TRUE = {"1", "true", "yes", "on", "span_only", "span_and_event"}
_FALSE = {"0", "false", "no", "off", "no_content", "event_only"}


class ConfigurationError(ValueError):
    """An invalid setting; the message names the argument and its environment variable."""


def default_local_store_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(base) / "opik-otel"


def default_spool_dir() -> Path:
    return default_local_store_dir() / "spool"


class Settings(BaseModel):
    """The resolved configuration of opik-otel."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    project_name: str = DEFAULT_PROJECT
    url: Optional[str] = None
    api_key: Optional[SecretStr] = None
    workspace: Optional[str] = None
    exporter: Optional[ExporterName] = None
    capture_content: bool = True
    track_disable: bool = False
    check_tls_certificate: bool = True
    max_queue_size: int = Field(2048, gt=0)
    max_export_batch_size: int = Field(512, gt=0, le=1000)
    schedule_delay_millis: int = Field(1000, ge=0)
    export_timeout_millis: int = Field(30000, gt=0)
    local_store_dir: Path = Field(default_factory=default_local_store_dir)
    price_overrides: dict[str, ModelPrices] = Field(default_factory=dict)
    spool_dir: Path = Field(default_factory=default_spool_dir)
    spool_max_mb: float = Field(100.0, ge=0)  # 0: no spool
    max_payload_size_mb: float = Field(20.0, ge=0)  # per span input / output; 0: no limit
    shutdown_timeout_millis: int = Field(5000, gt=0)
    redact: Optional[Callable[[Any], Any]] = None
    sources: dict[str, str] = Field(default_factory=dict, exclude=True)

    @field_validator("url")
    @classmethod
    def _valid_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"must be an http(s) URL with a host, got {value!r}")
        return value if value.endswith("/") else value + "/"

    @field_validator("redact")
    @classmethod
    def _callable(cls, value: Any) -> Any:
        if value is not None and not callable(value):
            raise ValueError(f"must be a callable taking and returning the content, got {type(value).__name__}")
        return value

    @field_validator("project_name")
    @classmethod
    def _non_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("price_overrides", mode="before")
    @classmethod
    def _overrides(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = Path(value).read_text() if os.path.isfile(value) else value
            value = json.loads(text)
        return parse_overrides(value or {})

    @property
    def resolved_exporter(self) -> ExporterName:
        """The exporter in effect: explicit, else Opik when a server is configured, else OTLP when
        an OTLP endpoint is, else the local store (nothing leaves the machine by surprise)."""
        if self.exporter:
            return self.exporter
        if self.url or self.api_key:
            return "opik"
        if any(os.environ.get(var) for var in _OTLP_ENDPOINT_VARS):
            return "otlp"
        return "local"

    @property
    def max_field_bytes(self) -> int | None:
        """`max_payload_size_mb` in bytes; None for no limit."""
        return int(self.max_payload_size_mb * 1_000_000) or None

    @property
    def opik_url(self) -> str:
        return self.url or CLOUD_URL

    @property
    def opik_workspace(self) -> str | None:
        if self.workspace:
            return self.workspace
        return "default" if self.opik_url == CLOUD_URL else None


def _parse_env(name: str, raw: str) -> Any:
    if name in ("capture_content", "track_disable", "check_tls_certificate"):
        lowered = raw.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        return raw  # left for pydantic to reject with the setting's name
    return raw


def _config_file() -> dict[str, str]:
    path = Path(os.environ.get("OPIK_CONFIG_PATH") or Path.home() / ".opik.config")
    if not path.is_file():
        return {}
    import configparser  # only when there is a file: start-up pays nothing for it otherwise

    parser = configparser.ConfigParser(interpolation=None)  # as the Opik SDK reads it: '%' is literal
    try:
        parser.read(path)
        section = parser["opik"] if parser.has_section("opik") else {}
        return {ours: section[key] for key, ours in _CONFIG_FILE_KEYS.items() if key in section}
    except configparser.Error:
        return {}


def resolve_settings(**explicit: Any) -> Settings:
    """Merge explicit arguments (not None) over env vars over the config file; validate."""
    unknown = set(explicit) - set(ENV_VARS)
    if unknown:
        raise ConfigurationError(f"opik_otel.configure() got unknown setting(s): {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key, value in _config_file().items():
        values[key], sources[key] = value, "config file"
    for name, var in ENV_VARS.items():
        raw = os.environ.get(var) if var != "-" else None
        if raw is not None and raw != "":
            values[name], sources[name] = _parse_env(name, raw), f"env {var}"
    for name, value in explicit.items():
        if value is not None:
            values[name], sources[name] = value, "argument"
    try:
        return Settings(**values, sources=sources)
    except ValidationError as exc:
        raise ConfigurationError(_describe(exc, sources)) from None
    except (ValueError, OSError) as exc:  # price_overrides JSON
        raise ConfigurationError(f"invalid setting 'price_overrides' ({ENV_VARS['price_overrides']}): {exc}") from None


def _describe(exc: ValidationError, sources: dict[str, str]) -> str:
    problems = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "?"
        where = sources.get(name, "default")
        problems.append(
            f"invalid setting '{name}' (argument {name}={_env_hint(name)}; value from {where}): {error['msg']}"
        )
    return "opik_otel.configure(): " + "; ".join(problems)


def _env_hint(name: str) -> str:
    var = ENV_VARS.get(name, "-")
    return "" if var == "-" else f" or env {var}"

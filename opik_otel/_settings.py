"""Settings: explicit arguments, then environment variables, then `~/.opik.config`, then defaults.

Every setting names its argument and its environment variable, so an invalid value fails
at `configure()` with a message saying which one to fix.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Callable, Literal, Optional
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from opik_otel._content import CAPTURE_CONTENT_ENV, parse_boolean, parse_capture_content
from opik_otel._pricing import ModelPrices, parse_overrides

logger = logging.getLogger(__name__)

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
    "capture_content": CAPTURE_CONTENT_ENV,
    "track_disable": "OPIK_TRACK_DISABLE",
    "check_tls_certificate": "OPIK_CHECK_TLS_CERTIFICATE",
    "max_queue_size": "OTEL_BSP_MAX_QUEUE_SIZE",
    "max_export_batch_size": "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    "schedule_delay_millis": "OTEL_BSP_SCHEDULE_DELAY",
    "export_timeout_millis": "OTEL_BSP_EXPORT_TIMEOUT",
    "local_store_dir": "OPIK_OTEL_LOCAL_STORE_DIR",
    "local_store_max_mb": "OPIK_OTEL_LOCAL_STORE_MAX_MB",
    "price_overrides": "OPIK_OTEL_PRICE_OVERRIDES",
    "spool_dir": "OPIK_OTEL_SPOOL_DIR",
    "spool_max_mb": "OPIK_OTEL_SPOOL_MAX_MB",
    "max_payload_size_mb": "OPIK_MAX_PAYLOAD_SIZE_MB",
    "shutdown_timeout_millis": "OPIK_OTEL_SHUTDOWN_TIMEOUT",
    "propagate_context_to_threads": "OPIK_OTEL_PROPAGATE_CONTEXT_TO_THREADS",
    "redact": "-",
}
# keys of the Opik SDK's config file section [opik]
_CONFIG_FILE_KEYS = {"url_override": "url", "api_key": "api_key", "workspace": "workspace", "project_name": "project_name"}
_OTLP_ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
# The SDK's exporter variable, below OPIK_OTEL_EXPORTER: the names of its values we can honour
OTEL_TRACES_EXPORTER = "OTEL_TRACES_EXPORTER"
_OTEL_EXPORTERS = ("otlp", "console", "none", "opik")
MAX_EXPORT_BATCH_SIZE = 1000  # the Opik REST API's batch limit: larger sizes are clamped to it
_warned_exporter_lists: set[str] = set()


class ConfigurationError(ValueError):
    """An invalid setting; the message names the argument and its environment variable."""

    __module__ = "opik_otel"  # raised and shown (repr, tracebacks, pickle) by its public name, opik_otel.ConfigurationError


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
    max_export_batch_size: int = Field(512, gt=0)  # clamped to 1000 and to max_queue_size
    schedule_delay_millis: int = Field(1000, gt=0)  # as the SDK: 0 would make the worker spin
    export_timeout_millis: int = Field(30000, gt=0)
    local_store_dir: Path = Field(default_factory=default_local_store_dir)
    local_store_max_mb: float = Field(200.0, gt=0)  # the local store's bound, all files together
    price_overrides: dict[str, ModelPrices] = Field(default_factory=dict)
    spool_dir: Path = Field(default_factory=default_spool_dir)
    spool_max_mb: float = Field(100.0, ge=0)  # 0: no spool
    max_payload_size_mb: float = Field(20.0, ge=0)  # per span input / output; 0: no limit
    shutdown_timeout_millis: int = Field(5000, gt=0)
    propagate_context_to_threads: bool = True  # patch Thread.start / ThreadPoolExecutor.submit to carry the context
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

    @field_validator("capture_content", mode="before")
    @classmethod
    def _content_switch(cls, value: Any) -> Any:
        if isinstance(value, str):
            parsed = parse_capture_content(value)  # the content switch's one value table
            if parsed is None:
                raise ValueError("must be SPAN_ONLY, SPAN_AND_EVENT, NO_CONTENT, EVENT_ONLY or a boolean (true/false, 1/0, yes/no, on/off)")
            return parsed
        return value

    @field_validator("track_disable", "check_tls_certificate", "propagate_context_to_threads", mode="before")
    @classmethod
    def _boolean(cls, value: Any) -> Any:
        if isinstance(value, str):
            parsed = parse_boolean(value)
            if parsed is None:
                raise ValueError("must be a boolean: true/false, 1/0, yes/no or on/off")
            return parsed
        return value

    @model_validator(mode="after")
    def _clamp_batch_size(self) -> "Settings":
        # the SDK accepts any positive size; the Opik client splits at 1000 anyway, and a batch
        # larger than the queue could never fill
        clamped = min(self.max_export_batch_size, MAX_EXPORT_BATCH_SIZE, self.max_queue_size)
        if clamped != self.max_export_batch_size:
            self.__dict__["max_export_batch_size"] = clamped  # frozen model: set while validating
        return self

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


def _config_path() -> Path:
    return Path(os.environ.get("OPIK_CONFIG_PATH") or Path.home() / ".opik.config")


def _config_file() -> dict[str, str]:
    path = _config_path()
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
            values[name], sources[name] = raw, f"env {var}"
    if "exporter" not in sources and explicit.get("exporter") is None:
        exporter = _otel_traces_exporter()
        if exporter is not None:
            values["exporter"], sources["exporter"] = exporter, f"env {OTEL_TRACES_EXPORTER}"
    for name, value in explicit.items():
        if value is not None:
            values[name], sources[name] = value, "argument"
    try:
        return Settings(**values, sources=sources)
    except ValidationError as exc:
        raise ConfigurationError(_describe(exc, sources)) from None
    except (ValueError, OSError) as exc:  # price_overrides file
        raise ConfigurationError(f"invalid setting: {_origin('price_overrides', sources)}: {exc}") from None


def _otel_traces_exporter() -> str | None:
    """The first name in `OTEL_TRACES_EXPORTER` that we can honour (we run one exporter)."""
    raw = os.environ.get(OTEL_TRACES_EXPORTER, "")
    names = [name.strip().lower() for name in raw.split(",") if name.strip()]
    if not names:
        return None
    supported = [name for name in names if name in _OTEL_EXPORTERS]
    if not supported:
        raise ConfigurationError(
            f"invalid setting: env {OTEL_TRACES_EXPORTER} (exporter): {raw.strip()!r} names no exporter opik-otel runs "
            f"({', '.join(_OTEL_EXPORTERS)}); set {ENV_VARS['exporter']} to choose one"
        )
    if len(names) > 1 and raw not in _warned_exporter_lists:
        _warned_exporter_lists.add(raw)
        ignored = ", ".join(name for name in names if name != supported[0])
        logger.warning("opik-otel: %s=%r: exporting with %r only (one exporter; ignored: %s)", OTEL_TRACES_EXPORTER, raw, supported[0], ignored)
    return supported[0]


def _describe(exc: ValidationError, sources: dict[str, str]) -> str:
    """One line: each invalid setting where its value came from (what to change), and why."""
    problems = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "?"
        problems.append(f"{_origin(name, sources)}: {error['msg']}")
    return "invalid setting: " + "; ".join(problems)


def _origin(name: str, sources: dict[str, str]) -> str:
    """Where a setting's value came from, named as the user set it."""
    where = sources.get(name, "default")
    if where.startswith("env "):
        return f"{where} ({name})"
    if where == "config file":
        key = next((key for key, ours in _CONFIG_FILE_KEYS.items() if ours == name), name)
        return f"{key} in the config file {_config_path()} ({name})"
    if where == "argument":
        var = ENV_VARS.get(name, "-")
        return f"argument {name}=" + ("" if var == "-" else f" (also settable as env {var})")
    return f"{name} (default)"

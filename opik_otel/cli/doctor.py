"""`opik-otel doctor`: the resolved configuration, the libraries, and a live check of the endpoint."""

from __future__ import annotations

import importlib
import os
import textwrap
import time
import urllib.error
import urllib.request
from importlib.metadata import PackageNotFoundError, distribution
from typing import Any

_SECRETS = ("api_key",)


WIDTH = 80  # every line of the report fits a terminal of 80 columns


def run(check: bool = True) -> int:
    """Print the report; 0 when the configuration is valid and the endpoint (if checked) answers.
    Every line fits 80 columns: long texts are wrapped, paths and URLs put on lines of their own."""
    from opik_otel._settings import ConfigurationError, resolve_settings

    try:
        settings = resolve_settings()
    except ConfigurationError as error:
        print("configuration: INVALID")
        print(_wrap(f"  {error}"))
        return 1
    print("configuration (value, and where it came from):")
    values = settings.model_dump(exclude={"sources", "redact"})
    width = max(len(name) for name in [*values, "exporter in effect"])
    for name, value in values.items():
        shown = mask(settings.api_key.get_secret_value()) if name in _SECRETS and settings.api_key else value
        if shown in (None, {}, ""):
            shown = "-"
        print(setting_line(name, str(shown), settings.sources.get(name, "default"), width))
    print(f"  {'exporter in effect':<{width}} {settings.resolved_exporter}")
    print("libraries:")
    for line in library_lines():
        print(textwrap.fill(line, WIDTH, initial_indent="  ", subsequent_indent=" " * 26, break_long_words=False))
    print(_wrap(zero_code_line()))
    if not check:
        return 0
    ok, verdict = check_endpoint(settings)
    print(_wrap(f"endpoint: {'OK' if ok else 'PROBLEM'} - {verdict}"))
    return 0 if ok else 1


def setting_line(name: str, value: str, source: str, width: int) -> str:
    """`  name  value  (source)`; when that is too wide, the value on lines of its own below."""
    line = f"  {name:<{width}} {value}  ({source})"
    if len(line) <= WIDTH:
        return line
    return f"  {name:<{width}} ({source})\n" + textwrap.fill(value, WIDTH, initial_indent="    ", subsequent_indent="    ",
                                                             break_long_words=False, break_on_hyphens=False)


def _wrap(text: str) -> str:
    """A report entry at 80 columns: its first line as is, continuation lines indented by two;
    a part of `text` after a newline that starts with two spaces (a path, a URL) is kept whole,
    on a line of its own, indented by four."""
    lines: list[str] = []
    for index, part in enumerate(text.split("\n")):
        if index and part.startswith("  "):
            lines.append("  " + part)
            continue
        lines += textwrap.wrap(part, WIDTH, initial_indent="" if index == 0 else "  ", subsequent_indent="  ",
                               break_long_words=False, break_on_hyphens=False)
    return "\n".join(lines)


def mask(secret: str) -> str:
    """Enough of a secret to recognise it, never enough to use it."""
    return f"{secret[:3]}…{secret[-2:]} ({len(secret)} chars)" if len(secret) > 12 else "****"


def library_lines() -> list[str]:
    """One line per supported library: installed version, and whether our instrumentor will trace it."""
    from opik_otel._registry import INTEGRATIONS, is_disabled

    lines = []
    for integration in INTEGRATIONS:
        try:
            found = distribution(integration.library).version
        except PackageNotFoundError:
            lines.append(f"{integration.library:<12} not installed")
            continue
        if is_disabled(integration.entry_point):
            status = f"not instrumented: disabled by OTEL_PYTHON_DISABLED_INSTRUMENTATIONS ({integration.entry_point})"
        else:
            conflict = _version_conflict(integration)
            status = f"not instrumented: {conflict}" if conflict else f"instrumented ({integration.entry_point})"
        lines.append(f"{integration.library:<12} {found:<10} {status}")
    return lines


def zero_code_line() -> str:
    """Which distro and configurator `opentelemetry-instrument` would load, chosen as it chooses
    them (`OTEL_PYTHON_DISTRO` / `OTEL_PYTHON_CONFIGURATOR`, else the first entry point), and
    whether tracing then reaches opik-otel's pipeline (our distro configures it, whichever configurator runs)."""
    from opentelemetry.util._importlib_metadata import entry_points

    def chosen(group: str, variable: str) -> tuple[str | None, list[str]]:
        names = [entry_point.name for entry_point in entry_points(group=group)]
        wanted = os.environ.get(variable)
        return next((name for name in names if wanted is None or name == wanted), None), names

    distro, distros = chosen("opentelemetry_distro", "OTEL_PYTHON_DISTRO")
    configurator, configurators = chosen("opentelemetry_configurator", "OTEL_PYTHON_CONFIGURATOR")
    loads = f"opentelemetry-instrument loads distro {distro or '(none)'} and configurator {configurator or '(none)'}"
    if distro == "opik_otel":
        if len(distros) > 1 and os.environ.get("OTEL_PYTHON_DISTRO") is None:
            return (f"zero code: OK - {loads}; {len(distros)} distros are installed ({', '.join(distros)}) and the first "
                    "found wins: set OTEL_PYTHON_DISTRO=opik_otel not to depend on that order")
        return f"zero code: OK - {loads}"
    fix = "set OTEL_PYTHON_DISTRO=opik_otel and OTEL_PYTHON_CONFIGURATOR=opik_otel"
    if configurator == "opik_otel":
        return (f"zero code: PROBLEM - {loads} (installed distros: {', '.join(distros)}): that distro's defaults apply "
                f"(opentelemetry-distro's sends to OTLP, not Opik); {fix}")
    return (f"zero code: PROBLEM - {loads} (installed: distros {', '.join(distros)}; configurators {', '.join(configurators)}): "
            f"nothing reaches opik-otel's pipeline; {fix}")


def _version_conflict(integration: Any) -> str | None:
    from opentelemetry.instrumentation.dependencies import get_dependency_conflicts

    try:
        module = importlib.import_module(integration.module + ".package")
        conflict = get_dependency_conflicts(getattr(module, "_instruments_of", {}).get(integration.library, module._instruments))
    except Exception:  # noqa: BLE001 - a report, not a check that may fail
        return None
    return f"outside the supported range ({conflict})" if conflict else None


def check_endpoint(settings: Any) -> tuple[bool, str]:
    """A live check of where spans would go, as (fine?, a plain-language verdict; a path or URL in
    it on a line of its own, after a newline and two spaces)."""
    exporter = settings.resolved_exporter
    if exporter == "local":
        from opik_otel.exporters.local import store_files

        files = store_files(settings.local_store_dir)
        return True, (f"no server configured: traces are stored locally in\n  {settings.local_store_dir}\n"
                      f"({len(files)} file(s)); `opik-otel view` shows them, `opik-otel upload` sends them to Opik")
    if exporter in ("none", "console"):
        return True, f"exporter {exporter!r}: nothing is sent anywhere"
    if exporter == "otlp":
        return _check_otlp()
    url = settings.opik_url
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url + "is-alive/ping", timeout=5) as response:
            response.read()
        elapsed = (time.monotonic() - started) * 1000
    except urllib.error.HTTPError as error:
        return False, f"the Opik server at\n  {url}\nanswered HTTP {error.code} to is-alive/ping: is the URL right (OPIK_URL_OVERRIDE)?"
    except (OSError, ValueError) as error:
        return False, f"cannot reach the Opik server at\n  {url}\n({type(error).__name__}: {error}); traces will be spooled until it answers"
    key = "with an API key" if settings.api_key else "without an API key (fine for a local Opik; Opik Cloud needs OPIK_API_KEY)"
    return True, f"the Opik server at\n  {url}\nanswered in {elapsed:.0f} ms; sending {key}"


def _check_otlp() -> tuple[bool, str]:
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or ""
    from opik_otel.exporters.otlp import otlp_protocol

    if otlp_protocol() == "grpc":
        import socket
        from urllib.parse import urlsplit

        parts = urlsplit(endpoint if "://" in endpoint else "http://" + endpoint)
        try:
            socket.create_connection((parts.hostname, parts.port or 4317), timeout=5).close()
        except OSError as error:
            return False, f"cannot connect to the OTLP gRPC endpoint\n  {endpoint}\n({error})"
        return True, f"the OTLP gRPC endpoint\n  {endpoint}\naccepts connections"
    url = endpoint if os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") else endpoint.rstrip("/") + "/v1/traces"
    request = urllib.request.Request(url, data=b"", method="POST", headers={"Content-Type": "application/x-protobuf"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            response.read()
    except urllib.error.HTTPError as error:
        return False, f"the OTLP endpoint\n  {url}\nanswered HTTP {error.code} to an empty export"
    except (OSError, ValueError) as error:
        return False, f"cannot reach the OTLP endpoint\n  {url}\n({type(error).__name__}: {error})"
    return True, f"the OTLP endpoint\n  {url}\naccepted an empty export"

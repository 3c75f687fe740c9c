"""The `opik-otel` command."""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import PackageNotFoundError, version


def _doctor(_: argparse.Namespace) -> int:
    from opik_otel._instrumentor import INTEGRATIONS, installed_integrations
    from opik_otel._settings import ConfigurationError, resolve_settings

    try:
        settings = resolve_settings()
    except ConfigurationError as exc:
        print(f"configuration: INVALID\n  {exc}")
        return 1
    print("configuration:")
    for name, value in settings.model_dump(exclude={"sources"}).items():
        if name == "api_key" and value is not None:
            secret = settings.api_key.get_secret_value() if settings.api_key else ""
            value = f"{secret[:2]}…{secret[-2:]}" if len(secret) > 8 else "****"
        print(f"  {name:<24} {value!s:<40} ({settings.sources.get(name, 'default')})")
    print(f"  {'exporter in effect':<24} {settings.resolved_exporter}")
    installed = {i.library for i in installed_integrations()}
    print("libraries:")
    for integration in INTEGRATIONS:
        try:
            found = version(integration.library) if integration.library in installed else "not installed"
        except PackageNotFoundError:
            found = "installed"
        print(f"  {integration.library:<24} {found}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `opik-otel` console script."""
    from opik_otel import __version__

    parser = argparse.ArgumentParser(prog="opik-otel", description="OpenTelemetry-native LLM observability for Opik.")
    parser.add_argument("--version", action="version", version=f"opik-otel {__version__}")
    commands = parser.add_subparsers(dest="command")
    doctor = commands.add_parser("doctor", help="show the resolved configuration and the supported libraries installed")
    doctor.set_defaults(run=_doctor)
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 0
    return args.run(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

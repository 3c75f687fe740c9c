"""The `opik-otel` command: `demo`, `view`, `upload`, `doctor`.

Bad arguments print a one-line error and exit with status 2 (argparse's convention).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opik_otel._settings import Settings


def settings_or_exit(command: str) -> "Settings":
    """The resolved settings; on an invalid setting, prints `opik-otel <command>: <message>`
    (one line, on stderr) and exits with status 2, the usage-error status."""
    from opik_otel._settings import ConfigurationError, resolve_settings

    try:
        return resolve_settings()
    except ConfigurationError as error:
        print(f"opik-otel {command}: {error}", file=sys.stderr)
        raise SystemExit(2) from None


def _demo(args: argparse.Namespace) -> int:
    from opik_otel.cli.demo import run

    return run(real=args.real, width=args.width)


def _view(args: argparse.Namespace) -> int:
    from opik_otel.cli.view import run

    settings = None if args.store else settings_or_exit(args.command)
    directory = Path(args.store) if args.store else settings.local_store_dir
    return run(directory, trace_id=args.trace, last=args.last, as_json=args.json, width=args.width, color=args.color,
               all_spans=args.all, spool_dir=settings.spool_dir if settings is not None else None)


def _upload(args: argparse.Namespace) -> int:
    from opik_otel.cli.upload import run

    settings = settings_or_exit(args.command)  # upload needs the server's settings, even with --store
    directory = Path(args.store) if args.store else settings.local_store_dir
    return run(directory, settings, include_spool=not args.no_spool, progress=not args.quiet)


def _doctor(args: argparse.Namespace) -> int:
    from opik_otel.cli.doctor import run

    return run(check=not args.offline)


class _Parser(argparse.ArgumentParser):
    """argparse, with a one-line error (and exit status 2) instead of the usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from opik_otel import __version__

    parser = _Parser(
        prog="opik-otel",
        description="OpenTelemetry-native LLM observability for Opik: see what your LLM app does.",
        epilog="Start with `opik-otel demo`. Without an Opik server configured, traces are stored "
        "locally; `opik-otel view` shows them and `opik-otel upload` sends them to Opik.",
    )
    parser.add_argument("--version", action="version", version=f"opik-otel {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    demo = commands.add_parser(
        "demo", help="run a small LLM agent offline and show its trace",
        description="Run a small agent (a tool call, then a streamed answer) with the real openai SDK against a "
        "built-in local OpenAI-compatible server, trace it, and show the trace. Nothing leaves the machine.",
    )
    demo.add_argument("--real", action="store_true", help="call the real OpenAI API instead (needs OPENAI_API_KEY)")
    demo.add_argument("--width", type=_positive, help="output width in columns (default: the terminal's)")
    demo.set_defaults(run=_demo)

    view = commands.add_parser(
        "view", help="show the latest stored traces as trees",
        description="Show traces from the local store as trees: span names and types, durations as bars on a "
        "time axis, model, tokens and cost per span and per trace; errors in red.",
    )
    view.add_argument("--trace", metavar="ID", help="show this trace (an id, its first characters, or the short id shown)")
    view.add_argument("--last", metavar="N", type=_positive, default=3, help="show the N latest traces (default 3)")
    view.add_argument("--all", action="store_true",
                      help="show every span of a trace (by default a trace shows its latest 100 spans and how many more)")
    view.add_argument("--json", action="store_true", help="print the traces and spans as JSON instead")
    view.add_argument("--width", type=_positive, help="output width in columns (default: the terminal's, at most 120)")
    colors = view.add_mutually_exclusive_group()
    colors.add_argument("--color", dest="color", action="store_true", default=None, help="always use colors")
    colors.add_argument("--no-color", dest="color", action="store_false", help="never use colors")
    view.add_argument("--store", metavar="DIR", help="the local store folder (default: the configured one)")
    view.set_defaults(run=_view)

    upload = commands.add_parser(
        "upload", help="send stored (and spooled) traces to the configured Opik server",
        description="Send the traces in the local store, and the batches in the spool, to the Opik server "
        "configured (OPIK_URL_OVERRIDE / OPIK_API_KEY / ~/.opik.config). Resumable: what was uploaded "
        "is remembered and never sent twice.",
    )
    upload.add_argument("--no-spool", action="store_true", help="leave the spool alone")
    upload.add_argument("--quiet", action="store_true", help="no progress bar")
    upload.add_argument("--store", metavar="DIR", help="the local store folder (default: the configured one)")
    upload.set_defaults(run=_upload)

    doctor = commands.add_parser(
        "doctor", help="check the configuration, the installed libraries and the endpoint",
        description="Show the resolved configuration (secrets masked) and where each value came from, the "
        "supported libraries installed and whether each is instrumented, and check the configured endpoint.",
    )
    doctor.add_argument("--offline", action="store_true", help="skip the live check of the endpoint")
    doctor.set_defaults(run=_doctor)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `opik-otel` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 0
    try:
        return args.run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `opik-otel view | head`
        return 0


"""Pools the per-process results of `overhead.py` and renders the Markdown tables.

    python benchmarks/overhead_report.py RUNS_DIR --out results/overhead-DATE.json [--md FILE]
    python benchmarks/overhead_report.py --render results/overhead-DATE.json

RUNS_DIR holds one JSON per process (written by `overhead.py --json`, or by
`run_overhead.sh` as `{"provider", "config", "mode", "rep", "error"}` for a process that
failed; `{"skipped": why}` records, e.g. bedrock's async mode, are left out).
Per provider x configuration x mode, the pairs of all its processes are pooled: the ratio
is the median of all per-block-pair ratios with their min-max, added µs the median of all
per-pair differences. One table per provider (runs without a provider are openai's).
Standard library only.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
from pathlib import Path

CONFIG_ORDER = ("none", "opik-otel-off", "opik-otel-on", "official", "official-on", "openllmetry", "openinference",
                "openinference-off", "opik-sdk")
MODE_ORDER = ("chat", "stream", "async")
PROVIDER_ORDER = ("openai", "anthropic", "bedrock", "genai", "litellm")
PROVIDER_TITLE = {"openai": "OpenAI", "anthropic": "Anthropic", "bedrock": "Bedrock", "genai": "google-genai", "litellm": "LiteLLM"}
CLIENT_PACKAGE = {"openai": "openai", "anthropic": "anthropic", "bedrock": "botocore", "genai": "google.genai", "litellm": "litellm"}
STREAM_SHAPE = {
    "openai": "20 content chunks + usage chunk",
    "anthropic": "message_start, content_block_start, ping, 20 text deltas, content_block_stop, message_delta, message_stop",
    "bedrock": "messageStart, 20 contentBlockDelta, contentBlockStop, messageStop, metadata",
    "genai": "20 SSE GenerateContentResponse chunks, the last with finish reason and usage",
    "litellm": "the OpenAI stream: 20 content chunks + usage chunk, through CustomStreamWrapper",
}


def _order(values, order):
    return values.index(order) if order in values else 99


def provider_of(run: dict) -> str:
    return run.get("provider", "openai")


def machine() -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu": model, "system": f"{platform.system()} {platform.release()}",
            "machine": platform.machine()}


def _med(values):
    values = list(values)
    return round(statistics.median(values), 2) if values else None


def summarise(runs: list[dict]) -> list[dict]:
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for run in runs:
        if "skipped" in run:
            continue
        groups.setdefault((provider_of(run), run["config"], run["mode"]), []).append(run)
    summary = []
    for (provider, config, mode), group in sorted(groups.items(), key=lambda kv: (
            _order(PROVIDER_ORDER, kv[0][0]), _order(MODE_ORDER, kv[0][2]), _order(CONFIG_ORDER, kv[0][1]))):
        ok = [r for r in group if "error" not in r]
        row: dict = {"provider": provider, "config": config, "mode": mode, "processes": len(ok),
                     "failed": [r["error"] for r in group if "error" in r]}
        if not ok:
            summary.append(row)
            continue
        pairs = [p for r in ok for p in r["pairs"]]
        ratios = [s / b for b, s in pairs]
        versions = ok[0]["versions"]
        peer = ok[0].get("peer_package")
        client = ok[0].get("client_package", CLIENT_PACKAGE.get(provider, "openai"))
        row.update({
            "peer_package": peer,
            "peer_version": versions.get(peer),
            "openai": versions.get("openai"),
            "client_package": client,
            "client_version": versions.get(client, versions.get(client.replace(".", "-"))),  # google.genai
            "versions": versions,
            "capture_content": ok[0].get("capture_content"),
            "bare_us": _med(b for b, _ in pairs),
            "instrumented_us": _med(s for _, s in pairs),
            "added_us": _med(s - b for b, s in pairs),
            "ratio_median": round(statistics.median(ratios), 4),
            "ratio_min": round(min(ratios), 4),
            "ratio_max": round(max(ratios), 4),
            "ratio_per_process": [r["ratio_median"] for r in ok],
            "added_per_process": [r["added_us"] for r in ok],
            "export_cpu_us": _med(r["export_cpu_us"] for r in ok if r.get("export_cpu_us") is not None),
            "blocks": sum(r["blocks"] for r in ok),
            "block_size": ok[0]["block_size"],
            "spans_ok": all(r.get("spans") in (None, r.get("spans_expected")) for r in ok),
            "notes": sorted({n for r in ok for n in r.get("notes", [])}),
            "env": sorted({e for r in ok for e in r.get("env", [])}),
        })
        if mode == "stream":
            chunks = ok[0].get("chunks", 20)
            ttfc = [p for r in ok for p in r["ttfc_pairs"]]
            first = [p for r in ok for p in r["first_pairs"]]
            per_chunk = [((s - b) - (fs - fb)) / chunks
                         for r in ok for (b, s), (fb, fs) in zip(r["pairs"], r["first_pairs"])]
            row.update({
                "ttfc_bare_us": _med(b for b, _ in ttfc),
                "ttfc_added_us": _med(s - b for b, s in ttfc),
                "first_only_bare_us": _med(b for b, _ in first),
                "fixed_us": _med(s - b for b, s in first),
                "per_chunk_us": _med(per_chunk),
                "per_chunk_naive_us": round(row["added_us"] / chunks, 2),
            })
        summary.append(row)
    return summary


def _ver(row: dict) -> str:
    client = row.get("client_package", "openai")
    client_version = row.get("client_version", row.get("openai"))
    if row["config"] == "none" or row["peer_package"] == client:
        return f"{client} {client_version}"
    return f"{row['peer_package']} {row['peer_version']}; {client} {client_version}"


def _content(row: dict) -> str:
    value = row.get("capture_content")
    return "–" if value is None else ("on" if value else "off")


def _f(value, fmt: str = "{:.1f}") -> str:
    return "–" if value is None else fmt.format(value)


def render(doc: dict) -> str:
    s = doc["settings"]
    m = doc["machine"]
    header = [
        f"Per-call overhead, {doc['date']} — {m['cpus']} cores ({m['cpu'] or m['machine']}), {m['system']}; "
        f"{s['procs']} processes × {s['blocks']} block pairs × {s['block_size']} calls, warm-up {s['warmup']}, "
        f"flush {s.get('flush', 'block')}.",
    ]
    by_provider: dict[str, list[dict]] = {}
    for row in doc["summary"]:
        by_provider.setdefault(row.get("provider", "openai"), []).append(row)
    if list(by_provider) in ([], ["openai"]):  # an OpenAI-only run: the tables as they always were
        return "\n".join(header + _render_rows(by_provider.get("openai", []), "openai")) + "\n"
    lines = header
    for provider, rows in by_provider.items():
        lines += ["", f"#### {PROVIDER_TITLE.get(provider, provider)}"] + _render_rows(rows, provider)
    skipped = sorted({f"- {r.get('provider', 'openai')} {r['config']} ({r['mode']}): skipped: {r['skipped']}"
                      for r in doc.get("runs", []) if "skipped" in r})
    if skipped:
        lines += ["", "Skipped:", *skipped]
    return "\n".join(lines) + "\n"


def _render_rows(summary: list[dict], provider: str) -> list[str]:
    lines = [
        "",
        "| config | mode | versions | content | bare µs | added µs (median) | ratio median (min–max) | "
        "per-process ratios | export CPU µs/call |",
        "|---|---|---|---|---:|---:|---|---|---:|",
    ]
    for row in summary:
        if not row.get("processes"):
            lines.append(f"| {row['config']} | {row['mode']} | failed: {row['failed'][0][:80]} | | | | | | |")
            continue
        per_proc = ", ".join(f"{x:.3f}" for x in row["ratio_per_process"])
        lines.append(
            f"| {row['config']} | {row['mode']} | {_ver(row)} | {_content(row)} | {_f(row['bare_us'])} | "
            f"{_f(row['added_us'], '{:+.1f}')} | {row['ratio_median']:.3f} ({row['ratio_min']:.3f}–"
            f"{row['ratio_max']:.3f}) | {per_proc} | {_f(row['export_cpu_us'])} |")
    stream = [r for r in summary if r["mode"] == "stream" and r.get("processes")]
    if stream:
        lines += [
            "",
            f"Streaming ({STREAM_SHAPE.get(provider, 'stream')}): time to first chunk, and the added cost split into "
            "fixed (create + first chunk + close) and per chunk ((added − fixed) / 20).",
            "",
            "| config | TTFC bare µs | TTFC added µs | fixed added µs | per-chunk µs | added / 20 µs |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for row in stream:
            lines.append(
                f"| {row['config']} | {_f(row['ttfc_bare_us'])} | {_f(row['ttfc_added_us'], '{:+.1f}')} | "
                f"{_f(row['fixed_us'], '{:+.1f}')} | {_f(row['per_chunk_us'], '{:+.2f}')} | "
                f"{_f(row['per_chunk_naive_us'], '{:+.2f}')} |")
    notes = []
    for row in summary:
        for note in row.get("notes", []):
            notes.append(f"- {row['config']} ({row['mode']}): {note}")
        if row.get("env"):
            notes.append(f"- {row['config']} ({row['mode']}): environment {', '.join(row['env'])}")
        if row.get("processes") and not row.get("spans_ok"):
            notes.append(f"- {row['config']} ({row['mode']}): span count differs from the instrumented calls")
        for error in row.get("failed", []):
            notes.append(f"- {row['config']} ({row['mode']}): a process failed: {error[:300]}")
    if notes:
        lines += ["", "Notes:", *sorted(set(notes))]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs_dir", nargs="?", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--md", type=Path, help="also write the Markdown here")
    parser.add_argument("--settings", default="{}", help="JSON: the run's blocks, block_size, warmup, procs")
    parser.add_argument("--render", type=Path, help="print the tables of an existing results file")
    args = parser.parse_args(argv)

    if args.render:
        sys.stdout.write(render(json.loads(args.render.read_text())))
        return 0
    runs = [json.loads(p.read_text()) for p in sorted(args.runs_dir.glob("*.json"))]
    doc = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine(),
        "settings": json.loads(args.settings),
        "summary": summarise(runs),
        "runs": runs,
    }
    text = render(doc)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(doc, indent=1) + "\n")
    if args.md:
        args.md.write_text(text)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

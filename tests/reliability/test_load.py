"""Load at `configure()`'s defaults (max_queue_size 2048, batch 512, delay 1000 ms), from a separate
process into the fake Opik back end, through the whole pipeline (`OpikBatchSpanProcessor`,
pricing on its worker, `OpikSpanExporter`):

- spans produced at a rate the default pipeline carries all arrive, once, in flat memory;
- a burst beyond the queue drops spans instead of growing memory, and the drops are counted
  exactly (stored + dropped = sent) and reported in at most one warning a minute plus a final
  count at shutdown, as the README says.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.e2e._helpers import clean_env, run_snippet
from tests.fakes.opik_backend import FakeOpikBackend

RATE = 1000  # spans per second, in traces of 10: well within what the default pipeline exports
STEADY_SPANS = 25_000
BURST_SPANS = 20_000  # as fast as the app can end them: far more than the 2048-span queue holds


def test_load_at_default_settings(tmp_path):
    with FakeOpikBackend() as backend:
        values, process = run_snippet(
            f"""
            import logging, resource, time
            logging.basicConfig(level=logging.WARNING, format="%(name)s %(levelname)s %(message)s")
            import opik_otel
            from opentelemetry import trace
            provider = opik_otel.configure(url={backend.url!r}, api_key="k", workspace="ws", project_name="load")
            batch = provider._active_span_processor._span_processors[0].inner
            tracer = trace.get_tracer("load")
            attributes = {{"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
                          "gen_ai.usage.input_tokens": 120, "gen_ai.usage.output_tokens": 30,
                          "gen_ai.input.messages": '[{{"role":"user","parts":[{{"type":"text","content":"What is the weather in Paris?"}}]}}]'}}

            def trace_of_ten():
                with tracer.start_as_current_span("agent"):
                    for child in range(9):
                        tracer.start_span("chat gpt-4o-mini", attributes=attributes).end()

            settings = opik_otel._configure.current_settings()
            report(settings=[settings.max_queue_size, settings.max_export_batch_size, settings.schedule_delay_millis])
            rss, started = [], time.perf_counter()
            for index in range({STEADY_SPANS // 10}):
                trace_of_ten()
                ahead = (index + 1) * 10 / {RATE} - (time.perf_counter() - started)
                if ahead > 0:
                    time.sleep(ahead)
                if index % 250 == 249:
                    rss.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
            assert opik_otel.flush(60_000)
            report(steady_dropped=batch.dropped, rss_kb=rss)
            for index in range({BURST_SPANS // 10}):
                trace_of_ten()
            opik_otel.shutdown()
            report(dropped=batch.dropped)
            """,
            clean_env(tmp_path),
            timeout=300,
        )
        assert values["settings"] == [2048, 512, 1000]
        assert values["steady_dropped"] == 0, f"{values['steady_dropped']} spans dropped at {RATE} spans/s"
        rss = values["rss_kb"]
        growth_mb = (rss[-1] - rss[1]) / 1024
        assert growth_mb < 30, f"RSS grew {growth_mb:.0f} MB at a steady {RATE} spans/s: {rss}"

        sent, dropped = STEADY_SPANS + BURST_SPANS, values["dropped"]
        assert dropped > 0  # the burst did not fit in the queue
        assert backend.wait_for(lambda b: b.span_count >= sent - dropped, 30)
        assert backend.span_count == sent - dropped  # every span not dropped is stored …
        assert backend.duplicates == 0 and backend.errors == []  # … once
        warnings = [line for line in process.stderr.splitlines() if "opik-otel: dropped" in line]
        assert 1 <= len(warnings) <= 2, warnings  # one within the minute, and the final count at shutdown
        assert re.search(r"\((\d+) in all\)", warnings[-1]).group(1) == str(dropped)  # reported exactly
        assert "OTEL_BSP_MAX_QUEUE_SIZE" in warnings[-1]
        report = {"steady_spans": STEADY_SPANS, "rate_per_s": RATE, "burst_spans": BURST_SPANS, "burst_dropped": dropped,
                  "rss_mb": [round(kb / 1024) for kb in rss]}
        (Path(tmp_path).parent / "reliability-load.json").write_text(json.dumps(report))
        print(report)

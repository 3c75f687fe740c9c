"""Load: 100,000 spans through `configure()`'s pipeline (`OpikBatchSpanProcessor`, pricing on its worker, `OpikSpanExporter`)
into the fake Opik back end, from a separate process: none lost, none duplicated, memory bounded."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e._helpers import clean_env, run_snippet
from tests.fakes.opik_backend import FakeOpikBackend

SPANS = 100_000


def test_100k_spans_zero_loss_bounded_memory(tmp_path):
    with FakeOpikBackend() as backend:
        values, _ = run_snippet(
            f"""
            import resource, time
            import opik_otel
            from opentelemetry import trace
            provider = opik_otel.configure(url={backend.url!r}, api_key="k", workspace="ws", project_name="load",
                                           max_queue_size=20000, max_export_batch_size=1000, schedule_delay_millis=200)
            tracer = trace.get_tracer("load")
            attributes = {{"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
                          "gen_ai.usage.input_tokens": 120, "gen_ai.usage.output_tokens": 30,
                          "gen_ai.input.messages": '[{{"role":"user","parts":[{{"type":"text","content":"What is the weather in Paris?"}}]}}]'}}
            rss = []
            started = time.perf_counter()
            for burst in range({SPANS // 10_000}):
                for index in range(1000):
                    with tracer.start_as_current_span("agent"):
                        for child in range(9):
                            tracer.start_span("chat gpt-4o-mini", attributes=attributes).end()
                opik_otel.flush(120_000)
                rss.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
            elapsed = time.perf_counter() - started
            batch = provider._active_span_processor._span_processors[0].inner
            report(elapsed=elapsed, rss_kb=rss, dropped=batch.dropped)
            """,
            clean_env(tmp_path),
            timeout=600,
        )
        assert backend.wait_for(lambda b: b.span_count >= SPANS, 60)
        assert values["dropped"] == 0
        assert backend.span_count == SPANS and backend.trace_count == SPANS // 10 and backend.errors == []
        assert backend.duplicates == 0
        rss = values["rss_kb"]
        growth_mb = (rss[-1] - rss[1]) / 1024
        assert growth_mb < 50, f"RSS grew {growth_mb:.0f} MB from the second burst to the last: {rss}"
        report = {"spans": SPANS, "spans_per_s": round(SPANS / values["elapsed"]), "peak_rss_mb": round(rss[-1] / 1024),
                  "rss_mb_per_burst": [round(kb / 1024) for kb in rss]}
        (Path(tmp_path).parent / "reliability-load.json").write_text(json.dumps(report))
        print(report)

"""`track_litellm(project_name=…)`, the seed API: every LiteLLM call from then on is traced on the
global TracerProvider, its spans routed to the project; a second call adds nothing."""

from __future__ import annotations

import litellm
import pytest
import wrapt

from opik_otel.instrumentors.litellm import instrumentor as litellm_instrumentor
from opik_otel.instrumentors.litellm import track_litellm
from tests.integration.spans import attrs, one_span


@pytest.fixture
def tracked(global_provider, monkeypatch):
    """`track_litellm` run for this test only: LiteLLM's functions and the once-flag restored after it."""
    monkeypatch.setattr(litellm_instrumentor, "_tracked", [])
    names = ("completion", "acompletion", "embedding", "aembedding", "text_completion", "atext_completion", "responses", "aresponses")
    for name in names:
        if hasattr(litellm, name):  # `responses` is newer than the oldest litellm
            monkeypatch.setattr(litellm, name, getattr(litellm, name))
    yield track_litellm


async def test_track_litellm(tracked, exporter, openai_call, requests_made):
    assert tracked(project_name="litellm-project") is None
    tracked(project_name="other")  # once per process: changes nothing

    assert isinstance(litellm.completion, wrapt.FunctionWrapper)
    assert not isinstance(litellm.completion.__wrapped__, wrapt.FunctionWrapper)
    litellm.completion(**openai_call)
    await litellm.acompletion(**openai_call)

    assert len(requests_made()) == 2
    spans = exporter.get_finished_spans()
    assert [(s.name, attrs(s)["opik.project_name"]) for s in spans] == [("chat openai/gpt-4o-mini", "litellm-project")] * 2
    assert [attrs(s)["gen_ai.usage.cost"] for s in spans] == [5.7e-06] * 2


def test_track_litellm_without_project(tracked, exporter, openai_call):
    tracked()
    litellm.completion(**openai_call)

    assert "opik.project_name" not in attrs(one_span(exporter))

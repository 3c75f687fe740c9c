"""Content: the redaction hook runs on every content value before it becomes an attribute; a hook
that fails never lets the unredacted content through; `configure(redact=...)` installs it."""

from __future__ import annotations

import json

import pytest

import opik_otel
from opik_otel import semconv as sc

openai = pytest.importorskip("openai")


@pytest.fixture
def hook():
    yield sc.set_content_hook
    sc.set_content_hook(None)


@pytest.fixture
def client(provider):
    """An OpenAI client against the fake server, traced by the instrumentor with content on."""
    from opik_otel.instrumentors.openai import OpenAIInstrumentor
    from tests.fakes.openai_server import FakeOpenAIServer

    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider, capture_content=True)
    try:
        with FakeOpenAIServer() as server:
            yield openai.OpenAI(base_url=server.base_url, api_key="sk-test-fake", max_retries=0)
    finally:
        instrumentor.uninstrument()


def mask(value):
    return json.loads(json.dumps(value).replace("4111-1111-1111-1111", "[card]"))


def test_the_hook_redacts_llm_and_tracked_content(hook, client, exporter):
    hook(mask)

    @opik_otel.track
    def pay(card):
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": f"charge {card}"}])
        return {"card": card}

    pay("4111-1111-1111-1111")
    everything = json.dumps([dict(span.attributes) for span in exporter.get_finished_spans()])
    assert "4111-1111-1111-1111" not in everything
    assert everything.count("[card]") >= 3  # the prompt, the tracked input and output


def test_a_failing_hook_records_a_placeholder(hook, caplog):
    def broken(value):
        raise RuntimeError("bug in the user's hook")

    hook(broken)
    assert sc.content_json({"secret": "x"}) == '"[redaction failed]"'


def test_configure_installs_the_hook_and_rejects_a_non_callable():
    with pytest.raises(opik_otel.ConfigurationError, match="redact"):
        opik_otel.configure(exporter="none", redact="not callable")


# --- a redacted value that cannot be encoded never lets the original through -----------------

CARD = "4111-1111-1111-1111"


class Unencodable:
    """What a buggy hook may return: neither JSON, `str()` nor `repr()` works on it."""

    def __str__(self):
        raise ValueError("cannot encode")

    __repr__ = __str__


def circular(value):
    loop = ["[card]"]
    loop.append(loop)
    return loop


@pytest.mark.parametrize(
    "redact, recorded",
    [
        (lambda value: Unencodable(), '"<unserialisable Unencodable>"'),
        (lambda value: {"card": Unencodable()}, '"<unserialisable dict>"'),
        (circular, json.dumps("['[card]', [...]]")),
    ],
    ids=["unencodable", "holds-unencodable", "circular"],
)
def test_an_unencodable_redacted_value_never_records_the_original(hook, client, exporter, redact, recorded):
    hook(redact)

    @opik_otel.track
    def pay(card):
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": f"charge {card}"}])
        opik_otel.update_current_trace(metadata={"card": {"number": card}})
        return {"card": card}

    assert pay(CARD) == {"card": CARD}
    spans = {span.name: dict(span.attributes) for span in exporter.get_finished_spans()}
    assert CARD not in json.dumps(spans)
    assert sorted(spans) == ["chat gpt-4o-mini", "pay"]  # no span lost either
    assert spans["pay"]["input.value"] == recorded
    assert spans["pay"]["output.value"] == recorded
    assert spans["pay"]["opik.trace.metadata.card"] == recorded
    assert spans["chat gpt-4o-mini"]["gen_ai.input.messages"] == recorded
    assert spans["chat gpt-4o-mini"]["gen_ai.output.messages"] == recorded


def test_configure_redact_with_an_unencodable_result_keeps_the_card_out_of_the_back_end(tmp_path):
    pytest.importorskip("opik")  # the fake back end validates with the opik package's models
    from tests.e2e._helpers import clean_env, run_snippet
    from tests.fakes.opik_backend import FakeOpikBackend
    from tests.fakes.openai_server import FakeOpenAIServer

    with FakeOpikBackend() as backend, FakeOpenAIServer() as server:
        run_snippet(
            f"""
            import opik_otel
            def redact(value):
                loop = ["[card]"]
                loop.append(loop)
                return loop  # a hook with a bug: a circular structure
            opik_otel.configure(url={backend.url!r}, api_key="k", project_name="redaction", redact=redact)
            opik_otel.OpikInstrumentor().instrument()

            @opik_otel.track
            def pay(card):
                openai_client().chat.completions.create(model="gpt-4o-mini", messages=[{{"role": "user", "content": card}}])
                return card

            pay({CARD!r})
            opik_otel.flush()
            """,
            clean_env(tmp_path, FAKE_OPENAI_BASE_URL=server.base_url),
        )
    assert backend.errors == []
    assert sorted(span["name"] for span in backend.spans.values()) == ["chat gpt-4o-mini", "pay"]
    everything = json.dumps([list(backend.spans.values()), list(backend.traces.values())])
    assert CARD not in everything
    assert "[card]" in everything

"""`@opik_otel.track`: functions, methods, coroutines, generators, options, errors, nesting."""

from __future__ import annotations

import asyncio
import gc
import json

import pytest
from opentelemetry.trace import SpanKind, StatusCode

import opik_otel
from tests.tracking.conftest import spans_by_name

pytestmark = pytest.mark.usefixtures("provider")


def attributes(span):
    return dict(span.attributes)


def test_function_records_bound_arguments_and_result(exporter):
    @opik_otel.track
    def add(x, y=2, *rest, **options):
        return {"sum": x + y}

    assert add(1, 3, 4, flag=True) == {"sum": 4}
    (span,) = exporter.get_finished_spans()
    assert span.name == "add"
    assert span.kind is SpanKind.INTERNAL
    assert span.instrumentation_scope.name == "opik_otel.track"
    assert attributes(span) == {
        "opik.span.type": "general", "input.mime_type": "application/json", "output.mime_type": "application/json",
        "input.value": json.dumps({"x": 1, "y": 3, "rest": [4], "options": {"flag": True}}, separators=(",", ":")),
        "output.value": '{"sum":4}',
    }


def test_options(exporter):
    @opik_otel.track(name="lookup", type="tool", capture_output=False, project_name="proj", tags=["a", "b"], metadata={"k": {"n": 1}, "v": 2})
    def find(city):
        return "sunny"

    find("Paris")
    assert attributes(exporter.get_finished_spans()[0]) == {
        "opik.span.type": "tool", "input.mime_type": "application/json", "output.mime_type": "application/json", "opik.project_name": "proj", "opik.tags": ("a", "b"),
        "opik.metadata.k": '{"n":1}', "opik.metadata.v": 2, "input.value": '{"city":"Paris"}',
    }


def test_capture_input_off_and_content_switch_off(exporter, monkeypatch):
    import opik_otel._content

    @opik_otel.track(capture_input=False)
    def secret(token):
        return "ok"

    secret("s3cr3t")
    assert "input.value" not in exporter.get_finished_spans()[0].attributes
    monkeypatch.setattr(opik_otel._content, "_configured", False)
    secret("s3cr3t")
    assert not {"input.value", "output.value"} & set(exporter.get_finished_spans()[1].attributes)


def test_invalid_type_fails_at_decoration():
    with pytest.raises(ValueError, match="track\\(type='agent'\\)"):
        opik_otel.track(type="agent")


def test_methods_leave_out_self_and_cls(exporter):
    class Service:
        @opik_otel.track
        def run(self, query):
            return query.upper()

        @classmethod
        @opik_otel.track
        def build(cls, size):
            return size

        @staticmethod
        @opik_otel.track
        def pure(value):
            return value

    assert Service().run("q") == "Q"
    Service.build(3)
    Service.pure(5)
    inputs = [json.loads(span.attributes["input.value"]) for span in exporter.get_finished_spans()]
    assert inputs == [{"query": "q"}, {"size": 3}, {"value": 5}]


def test_exception_is_recorded_and_reraised(exporter):
    @opik_otel.track
    def fail():
        raise KeyError("missing")

    with pytest.raises(KeyError):
        fail()
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "KeyError"
    assert [event.name for event in span.events] == ["exception"]


def test_nesting_parent_links(exporter):
    @opik_otel.track
    def inner():
        return 1

    @opik_otel.track
    def outer():
        return inner() + inner.__wrapped__()

    outer()
    spans = exporter.get_finished_spans()
    assert [span.name for span in spans] == ["inner", "outer"]
    assert spans[0].parent.span_id == spans[1].context.span_id
    assert spans[1].parent is None


def test_coroutine(exporter):
    @opik_otel.track
    async def fetch(n):
        await asyncio.sleep(0)
        return n * 2

    assert asyncio.run(fetch(4)) == 8
    (span,) = exporter.get_finished_spans()
    assert (span.name, span.attributes["output.value"]) == ("fetch", "8")


def test_generator_span_ends_when_exhausted_and_children_nest(exporter):
    @opik_otel.track
    def child(i):
        return i

    @opik_otel.track
    def tokens(n):
        for i in range(n):
            child(i)
            yield f"t{i} "

    stream = tokens(3)
    assert exporter.get_finished_spans() == ()  # nothing runs before iteration
    assert list(stream) == ["t0 ", "t1 ", "t2 "]
    spans = spans_by_name_all(exporter)
    parent = spans["tokens"][0]
    assert parent.attributes["output.value"] == '"t0 t1 t2 "'
    assert all(span.parent.span_id == parent.context.span_id for span in spans["child"])


def spans_by_name_all(exporter):
    grouped = {}
    for span in exporter.get_finished_spans():
        grouped.setdefault(span.name, []).append(span)
    return grouped


def test_generator_not_current_between_items(exporter):
    from opentelemetry import trace

    @opik_otel.track
    def numbers():
        yield 1
        yield 2

    for _ in numbers():
        assert not trace.get_current_span().get_span_context().is_valid


def test_generator_closed_early_ends_the_span(exporter):
    @opik_otel.track
    def numbers():
        yield 1
        yield 2

    stream = numbers()
    next(stream)
    stream.close()
    (span,) = exporter.get_finished_spans()
    assert span.attributes["output.value"] == "[1]"
    assert span.status.status_code is StatusCode.UNSET


def test_generator_abandoned_after_break_ends_on_gc(exporter):
    @opik_otel.track
    def numbers():
        yield from range(10)

    for _ in numbers():
        break
    gc.collect()
    assert len(exporter.get_finished_spans()) == 1


def test_generator_send_and_error(exporter):
    @opik_otel.track
    def echo():
        received = yield "ready"
        yield f"got {received}"
        raise RuntimeError("done badly")

    stream = echo()
    assert next(stream) == "ready"
    assert stream.send("x") == "got x"
    with pytest.raises(RuntimeError):
        next(stream)
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR


def test_generator_protocol_passes_through(exporter):
    """A thrown-in exception reaches the generator, its cleanup runs with the span current on close,
    and its return value reaches `yield from`."""
    from opentelemetry import trace

    seen = []

    @opik_otel.track
    def worker():
        try:
            seen.append(("sent", (yield 1)))
            yield 2
        except KeyError as exc:
            seen.append(("caught", exc.args[0]))
            yield 3
        finally:
            seen.append(("cleanup", trace.get_current_span().get_span_context().span_id))
        return "the result"

    def delegate():
        seen.append(("returned", (yield from worker())))

    stream = worker()
    assert next(stream) == 1
    assert stream.send("x") == 2
    assert stream.throw(KeyError("k")) == 3
    stream.close()
    (closed,) = exporter.get_finished_spans()
    assert seen == [("sent", "x"), ("caught", "k"), ("cleanup", closed.context.span_id)]
    assert closed.attributes["output.value"] == "[1,2,3]" and closed.status.status_code is StatusCode.UNSET

    seen.clear()
    assert list(delegate()) == [1, 2]
    exhausted = exporter.get_finished_spans()[1]
    assert seen == [("sent", None), ("cleanup", exhausted.context.span_id), ("returned", "the result")]
    assert exhausted.attributes["output.value"] == "[1,2]"


def test_async_generator_protocol_passes_through(exporter):
    from opentelemetry import trace

    seen = []

    @opik_otel.track
    async def worker():
        try:
            yield 1
        except KeyError as exc:
            seen.append(("caught", exc.args[0]))
            yield 2
        try:
            yield 3
        finally:
            await asyncio.sleep(0)
            seen.append(("cleanup", trace.get_current_span().get_span_context().span_id))

    async def consume():
        stream = worker()
        assert await stream.__anext__() == 1
        assert await stream.athrow(KeyError("k")) == 2
        assert await stream.asend(None) == 3
        await stream.aclose()
        with pytest.raises(StopAsyncIteration):
            await stream.__anext__()

    asyncio.run(consume())
    (span,) = exporter.get_finished_spans()
    assert seen == [("caught", "k"), ("cleanup", span.context.span_id)]
    assert span.attributes["output.value"] == "[1,2,3]"


def test_async_generator(exporter):
    @opik_otel.track
    async def chunks():
        for word in ("a", "b"):
            await asyncio.sleep(0)
            yield word

    async def consume():
        return [word async for word in chunks()]

    assert asyncio.run(consume()) == ["a", "b"]
    (span,) = exporter.get_finished_spans()
    assert span.attributes["output.value"] == '"ab"'


def test_async_generator_closed_early(exporter):
    @opik_otel.track
    async def chunks():
        yield 1
        yield 2

    async def consume():
        stream = chunks()
        await stream.__anext__()
        await stream.aclose()

    asyncio.run(consume())
    assert exporter.get_finished_spans()[0].attributes["output.value"] == "[1]"


def test_unserialisable_and_recursive_inputs_never_raise(exporter):
    loop = []
    loop.append(loop)

    @opik_otel.track
    def odd(value, other):
        return object()

    odd(loop, {1, 2})
    (span,) = exporter.get_finished_spans()
    assert "[[...]]" in span.attributes["input.value"]
    assert span.attributes["output.value"].startswith('"<object object at')


def test_instrumented_library_calls_nest_under_tracked_function(exporter, provider):
    openai = pytest.importorskip("openai")
    from opik_otel.instrumentors.openai import OpenAIInstrumentor
    from tests.fakes.openai_server import FakeOpenAIServer

    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        with FakeOpenAIServer() as server:
            client = openai.OpenAI(base_url=server.base_url, api_key="sk-test-fake", max_retries=0)

            @opik_otel.track
            def answer(question):
                return client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": question}]).choices[0].message.content

            answer("hi")
    finally:
        instrumentor.uninstrument()
    llm, tracked = exporter.get_finished_spans()
    assert (llm.name, tracked.name) == ("chat gpt-4o-mini", "answer")
    assert llm.parent.span_id == tracked.context.span_id
    assert llm.context.trace_id == tracked.context.trace_id


def test_update_current_span(exporter):
    @opik_otel.track
    def work():
        opik_otel.update_current_span(name="renamed", input={"q": 1}, output={"a": 2}, metadata={"m": "x"}, tags=["t"], thread_id="th")
        return "ignored: output set explicitly"

    work()
    (span,) = exporter.get_finished_spans()
    assert span.name == "renamed"
    assert attributes(span) == {
        "opik.span.type": "general", "input.mime_type": "application/json", "output.mime_type": "application/json", "input.value": '{"q":1}', "output.value": '{"a":2}', "opik.metadata.m": "x",
        "opik.tags": ("t",), "gen_ai.conversation.id": "th",
    }


def test_update_current_trace_from_a_nested_span(exporter):
    @opik_otel.track
    def inner():
        opik_otel.update_current_trace(name="the trace", input={"i": 1}, output={"o": 2}, metadata={"m": 1}, tags=["x"], thread_id="conv-1")

    @opik_otel.track
    def root():
        inner()

    root()
    spans = spans_by_name(exporter)
    assert {k: v for k, v in spans["root"].attributes.items() if k.startswith(("opik.trace.", "gen_ai.conversation"))} == {
        "opik.trace.name": "the trace", "opik.trace.input": '{"i":1}', "opik.trace.output": '{"o":2}',
        "opik.trace.metadata.m": 1, "opik.trace.tags": ("x",), "gen_ai.conversation.id": "conv-1",
    }
    assert not any(k.startswith("opik.trace.") for k in spans["inner"].attributes)


def test_updates_outside_any_span_do_nothing(exporter, provider):
    from opentelemetry import trace

    bystander = provider.get_tracer("app").start_span("bystander")  # running, but not current
    assert not trace.get_current_span().get_span_context().is_valid
    opik_otel.update_current_span(name="x", input={"q": 1}, output={"a": 2}, metadata={"m": 1}, tags=["t"], thread_id="th")
    opik_otel.update_current_trace(name="y", input={"q": 1}, output={"a": 2}, metadata={"m": 1}, tags=["t"], thread_id="th")
    bystander.end()
    (span,) = exporter.get_finished_spans()  # no span was started by the updates
    assert span.name == "bystander"
    assert attributes(span) == {}


# --- @track never raises into user code -----------------------------------------------------


class Detached:
    """An argument or result that cannot be printed (a detached ORM object)."""

    def __str__(self):
        raise RuntimeError("detached instance")

    __repr__ = __str__


class Unprintable(Exception):
    def __str__(self):
        raise RuntimeError("cannot print this error")


PLACEHOLDER = '"<unserialisable Detached>"'


def test_unprintable_argument_and_result_pass_through(exporter):
    @opik_otel.track(metadata={"obj": Detached()})
    def identity(value):
        return value

    value = Detached()
    assert identity(value) is value
    (span,) = exporter.get_finished_spans()
    assert span.attributes["output.value"] == PLACEHOLDER
    assert span.attributes["opik.metadata.obj"] == PLACEHOLDER
    assert span.attributes["input.value"] == '"<unserialisable dict>"'


def test_unprintable_exception_passes_through_unchanged(exporter):
    error = Unprintable()

    @opik_otel.track
    def fail(value):
        raise error

    with pytest.raises(Unprintable) as info:
        fail(Detached())
    assert info.value is error
    (span,) = exporter.get_finished_spans()
    assert span.attributes["error.type"] == "Unprintable"


def test_unprintable_values_in_coroutines_and_generators(exporter):
    value = Detached()

    @opik_otel.track
    async def coroutine(item):
        return item

    @opik_otel.track
    def generator(item):
        yield item
        yield item

    @opik_otel.track
    async def async_generator(item):
        yield item

    async def consume():
        return [item async for item in async_generator(value)]

    assert asyncio.run(coroutine(value)) is value
    assert [item is value for item in generator(value)] == [True, True]
    assert [item is value for item in asyncio.run(consume())] == [True]
    outputs = {span.name: span.attributes["output.value"] for span in exporter.get_finished_spans()}
    assert outputs == {"coroutine": PLACEHOLDER, "generator": '"<unserialisable list>"', "async_generator": '"<unserialisable list>"'}


class FailingProcessor:
    """A span processor with a bug: the SDK calls it unguarded from `start_span()` and `end()`."""

    def on_start(self, span, parent_context=None):
        raise RuntimeError("processor bug on start")

    def _on_ending(self, span):
        pass

    def on_end(self, span):
        raise RuntimeError("processor bug on end")

    def shutdown(self):
        pass

    def force_flush(self, timeout_millis=30000):
        return True


@pytest.mark.parametrize("failing", ["on_start", "on_end"])
def test_a_failing_pipeline_never_reaches_the_decorated_call(provider, exporter, monkeypatch, failing):
    processor = FailingProcessor()
    monkeypatch.setattr(processor, "on_end" if failing == "on_start" else "on_start", lambda *args, **kwargs: None)
    provider.add_span_processor(processor)
    result = object()

    @opik_otel.track
    def work():
        return result

    @opik_otel.track
    def chunks():
        yield result

    error = KeyError("the function's own")

    @opik_otel.track
    def fail():
        raise error

    assert work() is result
    assert list(chunks()) == [result]
    with pytest.raises(KeyError) as info:
        fail()
    assert info.value is error

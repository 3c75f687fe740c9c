"""Fixtures: the real dspy (and LiteLLM under it) against the fake OpenAI server answering in the
ChatAdapter's format, `DSPyInstrumentor` (and, per test, `LiteLLMInstrumentor`) on the in-memory
TracerProvider of tests/integration/conftest.py, which also gives the fake server, `requests_made`
and the checks. DSPy's cache is off (`cache=False`) except where a test turns it on, in a
temporary folder."""

from __future__ import annotations

import inspect
import os
import re
import tempfile

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before litellm is imported: no cost-map fetch
os.environ.setdefault("LITELLM_TELEMETRY", "False")
os.environ.setdefault("DSPY_CACHEDIR", tempfile.mkdtemp(prefix="dspy-cache-"))

import pytest  # noqa: E402

dspy = pytest.importorskip("dspy")

from opik_otel.instrumentors.dspy import DSPyInstrumentor  # noqa: E402
from opik_otel.instrumentors.litellm import LiteLLMInstrumentor  # noqa: E402
from tests.integration.conftest import instrumented  # noqa: E402

API_KEY = "sk-test-fake"
MODEL = "openai/gpt-4o-mini"
#: Whether `dspy.LM` chooses its engine (DSPy 3.4: native by default, `engine="litellm"` for LiteLLM).
HAS_ENGINES = "engine" in inspect.signature(dspy.LM.__init__).parameters


def output_fields(body: dict) -> list[str]:
    """The output fields a ChatAdapter request asks for, from its system message."""
    system = body["messages"][0]["content"]
    section = system.split("Your output fields are:", 1)[1].split("All interactions", 1)[0]
    return re.findall(r"^\d+\. `(\w+)`", section, flags=re.MULTILINE)


def chat_adapter_text(values: dict[str, str]) -> str:
    """An answer in the ChatAdapter's format."""
    return "".join(f"[[ ## {name} ## ]]\n{value}\n\n" for name, value in values.items()) + "[[ ## completed ## ]]"


def field_answer(body: dict) -> str:
    """Every requested output field answered `<field> text` (`answer`: "4")."""
    return chat_adapter_text({name: "4" if name == "answer" else f"{name} text" for name in output_fields(body)})


@pytest.fixture(autouse=True)
def chat_adapter_replies(srv):
    """The fake server answers DSPy's requests in the ChatAdapter's format (the script, if any, first)."""
    srv.reply_with(field_answer)
    yield
    srv.reply_with(None)


@pytest.fixture
def lm(srv):
    """`openai/gpt-4o-mini` on the fake server, no cache, no retries (DSPy 3.4's default engine: native)."""
    return dspy.LM(MODEL, api_base=srv.base_url, api_key=API_KEY, cache=False, num_retries=0)


@pytest.fixture
def litellm_lm(srv):
    """The same LM calling `litellm.completion` (every DSPy before 3.4 does)."""
    extra = {"engine": "litellm"} if HAS_ENGINES else {}
    return dspy.LM(MODEL, api_base=srv.base_url, api_key=API_KEY, cache=False, num_retries=0, **extra)


@pytest.fixture(autouse=True)
def dspy_settings():
    """Each test starts with no global callbacks and leaves DSPy's global settings as it found them."""
    from opik_otel.instrumentors.dspy.instrumentor import settings_module

    config = settings_module().main_thread_config
    before = dict(config)
    config["callbacks"] = []
    yield
    config.clear()
    config.update(before)


@pytest.fixture
def dspy_instrumentor(provider, capture_content):
    yield from instrumented(DSPyInstrumentor, provider, capture_content)


@pytest.fixture
def litellm_instrumentor(provider, capture_content):
    yield from instrumented(LiteLLMInstrumentor, provider, capture_content)


@pytest.fixture(autouse=True)
def fresh_litellm_clients():
    """LiteLLM caches its openai clients, and a client keeps the `create` it bound first (an earlier
    test's instrumentor, whose span would claim this test's model call): each test starts with none."""
    import litellm

    litellm.in_memory_llm_clients_cache.flush_cache()
    yield
    litellm.in_memory_llm_clients_cache.flush_cache()


@pytest.fixture(autouse=True)
def spans_end_exactly_once(spans_end_exactly_once):
    """The shared check of tests/integration/conftest.py, on for every test here."""


@pytest.fixture(autouse=True)
def no_context_errors(no_context_errors):
    """The shared check of tests/integration/conftest.py, on for every test here."""

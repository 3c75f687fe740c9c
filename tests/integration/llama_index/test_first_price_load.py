"""The first price load must not break the app's openai calls.

genai-prices imports httpx2, and openai 2.x (what llama-index-llms-openai runs on) reads
`sys.modules["httpx2"]` on every request without importing it: loaded on our price-loading
thread, httpx2 could be seen half-initialised and the user's `create()` raised AttributeError
(found by the LlamaIndex benchmark, 3 processes of 6). httpx2 must be fully imported by the
thread that imports openai, once opik-otel may price.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

openai = pytest.importorskip("openai")
if not Path(openai.__file__).with_name("_httpx2.py").exists() or int(openai.__version__.split(".")[0]) >= 3:
    pytest.skip("only openai 2.x reads httpx2 from sys.modules without importing it", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[3]


def run(code: str, store: Path) -> subprocess.CompletedProcess:
    """`code` in a fresh interpreter; `CONFIGURE` in it is `configure()` exporting to a local store."""
    code = code.replace("CONFIGURE", f"opik_otel.configure(exporter='local', local_store_dir={str(store)!r})")
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("order", ["configure first", "openai first"])
def test_httpx2_is_loaded_with_openai_once_opik_otel_may_price(order, tmp_path):
    steps = ["import opik_otel; CONFIGURE", "import openai"]
    if order == "openai first":
        steps.reverse()
    process = run("; ".join(["import sys", *steps, "print('httpx2' in sys.modules, 'genai_prices' in sys.modules)"]), tmp_path)

    assert process.returncode == 0, process.stderr
    assert process.stdout.split() == ["True", "False"]  # httpx2 loaded now; the prices still later, off the app's thread


def test_calls_made_while_the_prices_load_never_raise(srv, tmp_path):
    code = f'''
import threading, openai, opik_otel
CONFIGURE
from opik_otel import _pricing
client = openai.OpenAI(base_url={srv.base_url!r}, api_key="sk-fake", max_retries=0)
client.chat.completions.create(model="gpt-4o-mini", messages=[{{"role": "user", "content": "hi"}}])
_pricing.warm_up()  # the price load starts on its thread, as at the first priced span
errors = []
while not _pricing.prices_ready():
    try:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{{"role": "user", "content": "hi"}}])
    except Exception as error:
        errors.append(repr(error))
        break
print("errors:", errors)
'''
    process = run(code, tmp_path)

    assert process.returncode == 0, process.stderr
    assert process.stdout.strip() == "errors: []"

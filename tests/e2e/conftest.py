"""Fixtures shared by the end-to-end tests: the fake servers, and a clean environment for subprocesses."""

import pytest

from tests.e2e._helpers import clean_env
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.opik_backend import FakeOpikBackend


@pytest.fixture
def backend():
    with FakeOpikBackend() as backend:
        yield backend


@pytest.fixture
def srv():
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def env(tmp_path, srv):
    return clean_env(tmp_path, FAKE_OPENAI_BASE_URL=srv.base_url)

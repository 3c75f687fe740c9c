"""Shared by the 80-column tests: a data folder with a long-ish path that still fits on a line of
its own, and the check that every line of a command's output fits 80 columns."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

WIDTH = 80


@pytest.fixture
def data_home() -> Iterator[Path]:
    """A data folder of about 35 characters under /tmp: a path inside it (the store, its spool
    folder) is too long to share a line with a sentence, short enough for a line of its own."""
    folder = Path(tempfile.mkdtemp(prefix="opik-otel-eighty-columns-", dir="/tmp"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def assert_fits(text: str, *paths: object) -> None:
    """Every line of `text` has at most 80 characters, and each of `paths` is shown only on lines
    of their own (indentation, then the path or a path inside it)."""
    too_wide = [line for line in text.splitlines() if len(line) > WIDTH]
    assert not too_wide, "\n".join(too_wide)
    for path in map(str, paths):
        lines = [line for line in text.splitlines() if path in line]
        assert lines, f"{path} not shown in:\n{text}"
        assert all(line.strip().startswith(path) and " " not in line.strip() for line in lines), lines

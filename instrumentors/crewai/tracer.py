"""The Opik-SDK-style CrewAI API: `OpikCrew(crew, project_name=…)` (one crew) and `track_crewai(project_name=…)`
(every crew). Both read the same events as `CrewAIInstrumentor` through the one hook: with the
instrumentor on as well, each run still gets one span."""

from __future__ import annotations

import functools
import inspect
from typing import Any, Mapping, Sequence

from opik_otel.instrumentors._framework import handler_attributes
from opik_otel.instrumentors.crewai.instrumentor import SEED_ATTRIBUTES, ensure_hook, track_every_crew

#: The crew's methods that run it: traced with the `OpikCrew`'s attributes.
_KICKOFFS = frozenset({"kickoff", "kickoff_async", "akickoff", "kickoff_for_each", "kickoff_for_each_async", "akickoff_for_each"})


class OpikCrew:
    """A CrewAI crew whose runs (`kickoff`, `kickoff_async`, `kickoff_for_each` …) are traced,
    Opik-SDK style: `OpikCrew(crew, project_name="my-project").kickoff(inputs={...})`.

    `project_name` routes the trace to that Opik project, `tags` and `metadata` go on every span,
    `thread_id` groups the traces into an Opik thread. Everything else is the crew's own
    (attributes and methods are delegated to it); `.crew` is the crew itself.
    """

    def __init__(
        self,
        crew: Any,
        project_name: str | None = None,
        tags: Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        thread_id: str | None = None,
    ) -> None:
        self.crew = crew
        self._opik_attributes = handler_attributes(project_name, tags, metadata, thread_id)
        ensure_hook()

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.crew, name)
        if name not in _KICKOFFS or not callable(value):
            return value
        attributes = self._opik_attributes
        if inspect.iscoroutinefunction(value):

            @functools.wraps(value)
            async def traced_async(*args: Any, **kwargs: Any) -> Any:
                ensure_hook()
                token = SEED_ATTRIBUTES.set(attributes)
                try:
                    return await value(*args, **kwargs)
                finally:
                    SEED_ATTRIBUTES.reset(token)

            return traced_async

        @functools.wraps(value)
        def traced(*args: Any, **kwargs: Any) -> Any:
            ensure_hook()
            token = SEED_ATTRIBUTES.set(attributes)
            try:
                return value(*args, **kwargs)
            finally:
                SEED_ATTRIBUTES.reset(token)

        return traced

    def kickoff(self, *args: Any, **kwargs: Any) -> Any:
        """Run the crew (`Crew.kickoff`), traced; returns the crew's own output."""
        return self.__getattr__("kickoff")(*args, **kwargs)

    def __repr__(self) -> str:
        return f"OpikCrew({self.crew!r})"


def track_crewai(
    project_name: str | None = None,
    tags: Sequence[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    thread_id: str | None = None,
) -> None:
    """Trace every CrewAI crew and flow from now on (Opik SDK style), to `project_name`; tags,
    metadata and thread as for `OpikCrew`. Sets up opik-otel if the app has not."""
    track_every_crew(handler_attributes(project_name, tags, metadata, thread_id))

# SPDX-License-Identifier: GPL-2.0-or-later
"""Schemathesis against the served API: every operation of /openapi.json, fuzzed.

The store holds the real netfilter-devel Patchwork dump (projects, 2,060 patches, series).
uvicorn serves the API on 127.0.0.1 from a thread; schemathesis reads the schema the server
publishes and checks, for up to 50 generated requests per operation (valid and invalid
input mixed): no 5xx, the status code
and the content type are documented, and the body conforms to the documented schema.

On top of what schemathesis generates, every operation gets hostile variants of valid
requests: a C0 control character or DEL put into a text parameter, and a parameter the route
does not take. Both must answer 400, never 5xx and never as if nothing were wrong.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from lkml_assistant.repositories.sqlite import SqliteStore
from lkml_assistant.sources.patchwork_mapping import map_patch, map_project, map_series
from tests.peers.api_server import make_app, serve_in_thread
from tests.shared_data import patchwork_dump

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
MAX_EXAMPLES = 50
HOSTILE_EXAMPLES = 25
CONTROL_CHARACTERS = st.sampled_from([chr(code) for code in range(0x20)] + ["\x7f"])
# Misspelt filters, Patchwork's own names, and anything else.
UNKNOWN_NAMES = st.sampled_from(["status", "per_page", "page", "order", "Limit"]) | st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, blacklist_characters="&=#%+"), min_size=1
)


def filled_store(path: Path) -> SqliteStore:
    """A store holding the real netfilter-devel dump, as a sync would have left it."""
    dump = patchwork_dump()
    store = SqliteStore(path)
    store.projects.upsert_projects(
        map_project(raw) for raw in json.loads((dump / "projects.json").read_text())
    )
    store.patches.upsert_patches(
        map_patch(raw, UTC) for raw in json.loads((dump / "patches.json").read_text())
    )
    store.series.upsert_series(
        map_series(raw, UTC) for raw in json.loads((dump / "series.json").read_text())
    )
    return store


@pytest.fixture(scope="module")
def api_base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    pytest.importorskip("lkml_assistant.api.app")
    path = tmp_path_factory.mktemp("api-fuzz") / "store.sqlite3"
    store = filled_store(path)
    try:
        with serve_in_thread(make_app(store, f"sqlite:///{path}")) as base_url:
            yield base_url
    finally:
        store.close()


@pytest.fixture(scope="module")
def api_schema(api_base_url: str) -> Any:
    schema = schemathesis.openapi.from_url(f"{api_base_url}/api/openapi.json", timeout=10)
    schema.config.update(base_url=api_base_url)
    return schema


def fuzz_operation(operation: Any, base_url: str, calls: dict[str, int]) -> str | None:
    """Up to MAX_EXAMPLES generated requests against one operation; the failure, if any."""

    strategy = operation.as_strategy(GenerationMode.POSITIVE)
    if operation.query or operation.path_parameters:
        # Invalid input too: it must get a documented 4xx, never a 5xx.
        strategy = strategy | operation.as_strategy(GenerationMode.NEGATIVE)

    @given(case=strategy)
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        calls[operation.label] = calls.get(operation.label, 0) + 1
        response = case.call_and_validate(base_url=base_url, checks=CHECKS, timeout=10)
        kind = f"{response.status_code // 100}xx"
        calls[kind] = calls.get(kind, 0) + 1

    try:
        run()
    except (Exception, BaseExceptionGroup) as exc:  # collected, then all reported at once
        return f"{operation.label}: {type(exc).__name__}: {exc}"
    return None


@st.composite
def hostile_case(draw: st.DrawFn, operation: Any) -> tuple[schemathesis.Case, str]:
    """A valid request made invalid: a control character in one of its text parameters, or
    (always possible) an unknown query parameter. Returns the case and what was done."""
    case = draw(operation.as_strategy(GenerationMode.POSITIVE))
    query = dict(case.query or {})
    path = dict(case.path_parameters or {})
    texts: list[tuple[str, str]] = [("query", k) for k, v in query.items() if isinstance(v, str)]
    texts += [("path", k) for k, v in path.items() if isinstance(v, str)]
    in_text: bool = draw(st.booleans()) if texts else False
    if in_text:
        where, name = draw(st.sampled_from(texts))
        params = query if where == "query" else path
        value = params[name]
        at = draw(st.integers(0, len(value)))
        params[name] = value[:at] + draw(CONTROL_CHARACTERS) + value[at:]
        done = f"control character in {where}.{name}"
    else:
        declared = {parameter.name for parameter in operation.query}
        name = draw(UNKNOWN_NAMES.filter(lambda n: n not in declared))
        query[name] = draw(st.text(max_size=5) | st.just(""))
        done = f"unknown parameter {name!r}"
    case.query = query or None
    case.path_parameters = path or None
    return case, done


def fuzz_hostile(operation: Any, base_url: str, calls: dict[str, int]) -> str | None:
    """Hostile variants of valid requests to one operation; the failure, if any."""

    @given(hostile=hostile_case(operation))
    @settings(
        max_examples=HOSTILE_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(hostile: tuple[schemathesis.Case, str]) -> None:
        case, done = hostile
        response = case.call_and_validate(base_url=base_url, checks=CHECKS, timeout=10)
        kind = f"{response.status_code // 100}xx"
        calls[f"hostile {kind}"] = calls.get(f"hostile {kind}", 0) + 1
        assert response.status_code == 400, f"{done}: {response.status_code} {response.text}"

    try:
        run()
    except (Exception, BaseExceptionGroup) as exc:
        return f"{operation.label} (hostile): {type(exc).__name__}: {exc}"
    return None


def test_api_conforms_to_its_schema(api_schema: Any, api_base_url: str) -> None:
    # schemathesis.pytest.from_fixture does not work with pytest 9 (it reads a private node
    # attribute), so the operations are driven through hypothesis directly, one after another.
    failures: list[str] = []
    calls: dict[str, int] = {}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    for operation in operations:
        for fuzz in (fuzz_operation, fuzz_hostile):
            failure = fuzz(operation, api_base_url, calls)
            if failure is not None:
                failures.append(failure)
    print("requests per operation:", calls)
    assert len(operations) >= 8
    assert all(calls.get(operation.label) for operation in operations), calls
    assert calls.get("4xx"), "no invalid request generated"
    assert calls.get("hostile 4xx", 0) >= HOSTILE_EXAMPLES * len(operations) // 2, calls
    assert not calls.get("5xx") and not calls.get("hostile 5xx"), calls
    assert not failures, "\n\n".join(failures)


def test_schema_documents_every_route(api_schema: Any) -> None:
    """The fuzzing above covers every route the API offers."""
    paths = set(api_schema.raw_schema["paths"])
    for expected in (
        "/api/projects",
        "/api/patches",
        "/api/patches/{id}",
        "/api/patches/{id}/discussion",
        "/api/series/{id}",
        "/api/people/{email}/patches",
        "/api/stats",
        "/api/health",
    ):
        normalized = {
            path.replace("{patch_id}", "{id}").replace("{series_id}", "{id}") for path in paths
        }
        assert expected in normalized, (
            f"{expected} missing from /openapi.json paths {sorted(paths)}"
        )

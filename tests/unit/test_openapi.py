"""The OpenAPI document: committed in docs/openapi.json and current, complete, served with a UI."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from functions.api.handler import app
from scripts.export_openapi import TARGET, render
from tests.support.api import InProcessApi

# Every management route of the product specification (../shared/SPEC.md), as documented paths.
SPEC_ROUTES = {
    ("post", "/v1/webhooks"),
    ("get", "/v1/webhooks"),
    ("get", "/v1/webhooks/{webhook_id}"),
    ("patch", "/v1/webhooks/{webhook_id}"),
    ("delete", "/v1/webhooks/{webhook_id}"),
    ("post", "/v1/webhooks/{webhook_id}/test"),
    ("get", "/v1/webhooks/{webhook_id}/deliveries"),
    ("get", "/v1/secret"),
    ("post", "/v1/secret/rotate"),
    ("post", "/v1/events"),
    ("get", "/v1/events"),
    ("get", "/v1/events/{event_id}"),
    ("post", "/v1/events/{event_id}/replay"),
    ("get", "/v1/deliveries/{delivery_id}"),
    ("post", "/v1/deliveries/{delivery_id}/retry"),
    ("post", "/v1/admin/api-keys"),
    ("delete", "/v1/admin/api-keys/{key_id}"),
    ("get", "/v1/admin/dlq"),
    ("post", "/v1/admin/dlq/redrive"),
    ("post", "/v1/sources"),
    ("get", "/v1/sources"),
    ("get", "/v1/sources/{source_id}"),
    ("patch", "/v1/sources/{source_id}"),
    ("delete", "/v1/sources/{source_id}"),
}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return dict(json.loads(render()))


def documented(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method, path) for path, item in document["paths"].items() for method in item}


def test_committed_document_is_current() -> None:
    assert TARGET.exists(), "docs/openapi.json is missing: run `make openapi`"
    committed = TARGET.read_text(encoding="utf-8")
    assert committed == render(), "docs/openapi.json is out of date: run `make openapi`"


def test_document_is_openapi_3_with_both_auth_schemes(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "Serverless Webhooks"
    schemes = document["components"]["securitySchemes"]
    described = {key: value for key, value in schemes["apiKey"].items() if key != "description"}
    assert described == {"type": "apiKey", "name": "x-api-key", "in": "header"}
    assert schemes["apiKey"]["description"] and schemes["bearer"]["description"]
    assert schemes["bearer"]["type"] == "http" and schemes["bearer"]["scheme"] == "bearer"
    assert {"apiKey": []} in document["security"] and {"bearer": []} in document["security"]


def test_every_route_of_the_spec_is_documented(document: dict[str, Any]) -> None:
    missing = SPEC_ROUTES - documented(document)
    assert not missing, f"routes of the spec missing from the OpenAPI document: {sorted(missing)}"


def test_every_served_route_is_documented(document: dict[str, Any]) -> None:
    """Nothing the resolver serves is left out (bar the document, the UI and /health)."""
    served = {
        (route.method.lower(), re.sub(r"<(\w+)>", r"{\1}", route.path))
        for route in [*app._static_routes, *app._dynamic_routes]
        if route.include_in_schema
    }
    assert served - documented(document) == set()
    assert documented(document) - served == set()


def test_every_operation_documents_its_answers(document: dict[str, Any]) -> None:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            answers = operation["responses"]
            success = [code for code in answers if code.startswith("2")]
            assert success, (method, path)
            for code in ("401", "422"):
                error = answers[code]["content"]["application/json"]["schema"]
                assert error == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, code)
            for code in success:
                if code == "204":  # no body, so no media type
                    assert answers[code].get("content", {}) == {}, (method, path)
                else:
                    assert "application/json" in answers[code]["content"], (method, path, code)


def test_list_routes_document_limit_and_cursor(document: dict[str, Any]) -> None:
    events = {p["name"]: p for p in document["paths"]["/v1/events"]["get"]["parameters"]}
    assert {"direction", "type", "source_id", "limit", "cursor"} <= set(events)
    assert events["limit"]["schema"]["minimum"] == 1
    assert events["limit"]["schema"]["maximum"] == 100


def test_served_document_equals_the_committed_one(aws: dict[str, str]) -> None:
    api = InProcessApi()
    reply = api.request("GET", "/v1/openapi.json")
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("application/json")
    assert reply.json() == json.loads(TARGET.read_text(encoding="utf-8"))


def test_docs_serve_the_swagger_ui(aws: dict[str, str]) -> None:
    api = InProcessApi()
    reply = api.request("GET", "/v1/docs")
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/html")
    page = reply.body.decode()
    assert "swagger-ui" in page.lower()
    assert "SwaggerUIBundle" in page
    assert "Serverless Webhooks" in page


def test_document_and_ui_need_no_api_key(aws: dict[str, str]) -> None:
    api = InProcessApi()
    for path in ("/v1/openapi.json", "/v1/docs"):
        assert api.request("GET", path, headers={"x-api-key": "wk_wrong"}).status == 200


# --- API docs: tags, summaries, client-friendly ids, examples (functions/api/docs.py) ----------

CAMEL_CASE = re.compile(r"[a-z]+(?:[A-Z][a-z0-9]*)+|[a-z]+")
RESOURCE_TAGS = {
    "webhooks",
    "events",
    "deliveries",
    "secret",
    "sources",
    "event types",
    "portal",
    "admin",
}


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def test_every_resource_has_a_described_tag(document: dict[str, Any]) -> None:
    tags = {tag["name"]: tag["description"] for tag in document["tags"]}
    assert set(tags) == RESOURCE_TAGS
    assert all(len(description) > 20 for description in tags.values())


def test_every_operation_has_a_tag_a_summary_and_a_client_friendly_id(
    document: dict[str, Any],
) -> None:
    """A row in functions/api/docs.py OPERATIONS gives all of these; the resolver alone gives
    `METHOD /path` summaries and ids like `create_webhook_v1_webhooks_post`."""
    missing = []
    ids = []
    for method, path, operation in operations(document):
        tags = operation.get("tags", [])
        summary = operation.get("summary", "")
        operation_id = operation.get("operationId", "")
        ids.append(operation_id)
        if (
            len(tags) != 1
            or tags[0] not in RESOURCE_TAGS
            or not summary
            or summary == f"{method.upper()} {path}"
            or not operation.get("description")
            or not CAMEL_CASE.fullmatch(operation_id)
        ):
            missing.append(f"{method} {path}")
    assert not missing, f"add a row to functions/api/docs.py OPERATIONS for: {missing}"
    assert len(ids) == len(set(ids)), "operation ids must be unique"


def test_every_operation_has_request_and_response_examples(document: dict[str, Any]) -> None:
    """A request example where there is a body; an example of the 2xx JSON answer (a 204 has
    none to show)."""
    missing = []
    for method, path, operation in operations(document):
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if body is not None and "example" not in body:
            missing.append(f"{method} {path} request")
        answers = [
            answer["content"]["application/json"]
            for code, answer in operation["responses"].items()
            if code.startswith("2") and "application/json" in answer.get("content", {})
        ]
        if answers and not any("example" in media for media in answers):
            missing.append(f"{method} {path} response")
    assert not missing, f"examples missing (functions/api/docs.py OPERATIONS): {missing}"


def test_every_example_matches_its_schema(document: dict[str, Any]) -> None:
    """An example a reader copies is one the API accepts (request) or gives (response)."""
    import jsonschema_rs

    def check(media: dict[str, Any], where: str) -> None:
        schema = {**media["schema"], "components": document["components"]}
        validator = jsonschema_rs.Draft202012Validator(schema)
        errors = [error.message for error in validator.iter_errors(media["example"])]
        assert not errors, (where, errors[:3])

    checked = 0
    for method, path, operation in operations(document):
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if body is not None:
            check(body, f"{method} {path} request")
            checked += 1
        for code, answer in operation["responses"].items():
            media = answer.get("content", {}).get("application/json")
            if code.startswith("2") and media is not None:
                check(media, f"{method} {path} {code}")
                checked += 1
    assert checked >= len(operations(document))


def test_the_swagger_page_groups_operations_by_tag(aws: dict[str, str]) -> None:
    page = InProcessApi().request("GET", "/v1/docs").body.decode()
    for tag in ("event types", "webhooks", "admin"):
        assert f'"name": "{tag}"' in page or f'"name":"{tag}"' in page
    assert '"tags": ["webhooks"]' in page or '"tags":["webhooks"]' in page

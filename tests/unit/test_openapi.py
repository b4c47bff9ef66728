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
    assert schemes["apiKey"] == {"type": "apiKey", "name": "x-api-key", "in": "header"}
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

"""The event type catalog's strict mode on AWS (README "Event type catalog"): the CDK context
`strict_event_types=true` sets `WEBHOOKS_STRICT_EVENT_TYPES=1` on the publish function, the one
that checks types; without it (the session's synth) no function has it."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra import declaration as decl
from infra.app import build_app
from infra.stack import STACK_NAME, ServerlessWebhooksStack
from shared.core.config import STRICT_EVENT_TYPES_ENV
from tests.infra.conftest import SKIP_BUNDLING

pytestmark = pytest.mark.xdist_group("cdk")


def environments(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        fn["Properties"]["Handler"]: fn["Properties"]["Environment"]["Variables"]
        for fn in template["Resources"].values()
        if fn["Type"] == "AWS::Lambda::Function"
    }


def test_strict_mode_is_off_by_default(synth: Any) -> None:
    for env in environments(synth.json).values():
        assert STRICT_EVENT_TYPES_ENV not in env


def test_the_context_turns_strict_mode_on_for_publish_only(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    outdir = tmp_path_factory.mktemp("cdk.strict")
    app = build_app({**SKIP_BUNDLING, "strict_event_types": "true"}, outdir=str(outdir), nag=False)
    stack = app.node.find_child(STACK_NAME)
    assert isinstance(stack, ServerlessWebhooksStack)
    found = environments(Template.from_stack(stack).to_json())
    strict = {handler for handler, env in found.items() if env.get(STRICT_EVENT_TYPES_ENV) == "1"}
    assert strict == {decl.PUBLISH.handler}

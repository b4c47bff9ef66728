"""Lambda functions: settings, environment and IAM follow each declaration's flags exactly."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra import declaration as decl
from infra.constructs.naming import METRICS_NAMESPACE, SERVICE_NAME
from infra.constructs.permissions import TABLE_READS, TABLE_WRITES
from shared.core import resources as res
from shared.core.config import DEFAULT_RETENTION_DAYS, RETENTION_ENV

pytestmark = pytest.mark.xdist_group("cdk")

SECRET_PREFIX = "serverless-webhooks"
QUEUE_IDS = {q.env_var: q.logical_id for q in res.QUEUES} | {
    q.dlq_env_var: f"{q.logical_id}DLQ" for q in res.QUEUES
}
FUNCTIONS = pytest.mark.parametrize("spec", decl.FUNCTIONS, ids=lambda f: f.name)


def _ids(synth: Any) -> dict[str, str]:
    stack = synth.stack
    return {
        "bucket": stack.resolve(stack.storage.raw_bodies.node.default_child.logical_id),
        "machine": stack.resolve(stack.retries.state_machine.node.default_child.logical_id),
        "secret": stack.resolve(stack.admin_key.secret.node.default_child.logical_id),
        "api": stack.resolve(stack.http_api.api.node.default_child.logical_id),
    }


def _queue_env(spec: decl.Function) -> set[str]:
    names = set(spec.sends_to)
    if spec.consumes:
        names |= {spec.consumes.env_var, spec.consumes.dlq_env_var}
    if spec.manages_dlqs:
        names |= set(QUEUE_IDS)
    return names


def test_one_function_per_declaration(synth: Any) -> None:
    assert len(synth.resources("AWS::Lambda::Function")) == len(decl.FUNCTIONS)
    for spec in decl.FUNCTIONS:
        synth.function_id(spec)  # exactly one function has the declared handler


@FUNCTIONS
def test_function_settings(synth: Any, spec: decl.Function) -> None:
    props = synth.props(synth.function_id(spec))
    assert props["Runtime"] == "python3.12"
    assert props["Architectures"] == ["x86_64"]
    assert props["Handler"] == spec.handler
    assert props["MemorySize"] == spec.memory_mb
    assert props["Timeout"] == spec.timeout_seconds
    assert props["TracingConfig"] == {"Mode": "Active"}
    ((layer_id, _),) = synth.resources("AWS::Lambda::LayerVersion").items()
    assert props["Layers"] == [synth.ref(layer_id)]
    log_group_id = props["LoggingConfig"]["LogGroup"]["Ref"]
    assert synth.props(log_group_id)["RetentionInDays"] == 30


@FUNCTIONS
def test_function_environment(synth: Any, spec: decl.Function) -> None:
    env = synth.props(synth.function_id(spec))["Environment"]["Variables"]
    ids = _ids(synth)
    tables = {t for t in res.TABLES if t in spec.reads_tables or t in spec.writes_tables}
    expected: dict[str, Any] = {t.env_var: synth.ref(t.logical_id) for t in tables}
    expected |= {name: synth.ref(QUEUE_IDS[name]) for name in _queue_env(spec)}
    expected |= {
        res.RAW_BODY_BUCKET_ENV: synth.ref(ids["bucket"]),
        res.RETRY_STATE_MACHINE_ENV: synth.ref(ids["machine"]),
        res.ADMIN_KEY_SECRET_ENV: synth.ref(ids["secret"]),
        res.SECRET_PREFIX_ENV: SECRET_PREFIX,
        RETENTION_ENV: str(DEFAULT_RETENTION_DAYS),  # the stack's retention_days (README)
        "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
    }
    expected |= dict(spec.settings)
    public_url = env.pop("PUBLIC_BASE_URL")
    assert env == expected
    assert public_url == {"Fn::GetAtt": [ids["api"], "ApiEndpoint"]}


def _has(grants: set[tuple[str, str]], action: str, resource: Any) -> bool:
    return (action, json.dumps(resource, sort_keys=True)) in grants


def _mentions(grants: set[tuple[str, str]], prefix: str, text: str) -> set[str]:
    return {action for action, resource in grants if action.startswith(prefix) and text in resource}


@FUNCTIONS
def test_table_grants(synth: Any, spec: decl.Function) -> None:
    grants = synth.grants(spec)
    for table in res.TABLES:
        arn = synth.arn(table.logical_id)
        reads, writes = table in spec.reads_tables, table in spec.writes_tables
        # Exactly the actions the code calls (tests/infra/test_iam_calls.py), within the flags.
        declared = (TABLE_READS if reads else set()) | (TABLE_WRITES if writes else set())
        granted = _mentions(grants, "dynamodb:", f'"{table.logical_id}"')
        assert {action.removeprefix("dynamodb:") for action in granted} <= declared
        assert bool(granted) == (reads or writes), table.logical_id
        assert not _has(grants, "dynamodb:Scan", arn), table.logical_id


@FUNCTIONS
def test_queue_grants(synth: Any, spec: decl.Function) -> None:
    grants = synth.grants(spec)
    dlq_env_vars = {q.dlq_env_var for q in res.QUEUES}
    for env_var, logical_id in QUEUE_IDS.items():
        arn = synth.arn(logical_id)
        sends = env_var in spec.sends_to or (spec.manages_dlqs and env_var not in dlq_env_vars)
        consumed = spec.consumes is not None and spec.consumes.env_var == env_var
        receives = consumed or (spec.manages_dlqs and env_var in dlq_env_vars)
        assert _has(grants, "sqs:SendMessage", arn) == sends, env_var
        assert _has(grants, "sqs:ReceiveMessage", arn) == receives, env_var
        assert _has(grants, "sqs:DeleteMessage", arn) == receives, env_var


@FUNCTIONS
def test_secret_grants(synth: Any, spec: decl.Function) -> None:
    grants = synth.grants(spec)
    for kind, level in (("users", spec.user_secrets), ("sources", spec.source_secrets)):
        pattern = f":secret:{SECRET_PREFIX}/{kind}/*"
        actions = _mentions(grants, "secretsmanager:", pattern)
        assert ("secretsmanager:GetSecretValue" in actions) == bool(level), kind
        assert ("secretsmanager:CreateSecret" in actions) == (level == "write"), kind
        assert ("secretsmanager:PutSecretValue" in actions) == (level == "write"), kind
    admin = synth.ref(_ids(synth)["secret"])
    assert _has(grants, "secretsmanager:GetSecretValue", admin) == spec.reads_admin_secret


@FUNCTIONS
def test_bucket_and_state_machine_grants(synth: Any, spec: decl.Function) -> None:
    grants = synth.grants(spec)
    ids = _ids(synth)
    objects = {"Fn::Join": ["", [synth.arn(ids["bucket"]), "/*"]]}
    assert _has(grants, "s3:GetObject", objects) == (spec.raw_bodies in ("read", "read_write"))
    assert _has(grants, "s3:PutObject", objects) == (spec.raw_bodies in ("write", "read_write"))
    assert not _mentions(grants, "s3:DeleteObject", "")
    starts = _has(grants, "states:StartExecution", synth.ref(ids["machine"]))
    assert starts == spec.starts_retries


@FUNCTIONS
def test_role_is_the_functions_own(synth: Any, spec: decl.Function) -> None:
    props = synth.props(synth.function_id(spec))
    role = synth.props(props["Role"]["Fn::GetAtt"][0])
    assert "ManagedPolicyArns" not in role
    log_group = props["LoggingConfig"]["LogGroup"]["Ref"]
    logs = {a for a, r in synth.grants(spec) if a.startswith("logs:")}
    assert logs == {"logs:CreateLogStream", "logs:PutLogEvents"}
    assert all(f'"{log_group}"' in r for a, r in synth.grants(spec) if a.startswith("logs:"))


def test_event_source_mappings_report_batch_item_failures(synth: Any) -> None:
    mappings = synth.resources("AWS::Lambda::EventSourceMapping").values()
    consumers = [spec for spec in decl.FUNCTIONS if spec.consumes]
    assert len(mappings) == len(consumers)
    by_queue = {json.dumps(m["Properties"]["EventSourceArn"]): m["Properties"] for m in mappings}
    for spec in consumers:
        assert spec.consumes is not None
        mapping = by_queue[json.dumps(synth.arn(spec.consumes.logical_id))]
        assert mapping["FunctionName"] == synth.ref(synth.function_id(spec))
        assert mapping["BatchSize"] == spec.consumes.batch_size
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_dependency_layer(synth: Any) -> None:
    ((_, layer),) = synth.resources("AWS::Lambda::LayerVersion").items()
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.12"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["x86_64"]


def test_admin_api_key_secret(synth: Any) -> None:
    ((_, secret),) = synth.resources("AWS::SecretsManager::Secret").items()
    props = secret["Properties"]
    assert props["Name"] == f"{SECRET_PREFIX}/admin-api-key"
    assert props["GenerateSecretString"] == {
        "SecretStringTemplate": "{}",
        "GenerateStringKey": "api_key",
        "ExcludePunctuation": True,
        "PasswordLength": 40,
    }

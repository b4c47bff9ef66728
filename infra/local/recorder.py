"""Record each AWS call a function makes as the IAM action(s) it needs on the resource(s) it names.

moto never evaluates IAM, so a call the deployed role does not allow passes every test and fails
only after `cdk deploy`. Local mode and the test suite record what the functions' code calls;
tests/infra/test_iam_calls.py checks every record against the role policies of the synthesized
template. This module lives in infra/local/, which no Lambda bundle ships (infra/bundling.py
copies `shared/` and `functions/<name>/` only).

The hook is botocore's `provide-client-params` event: it fires once per API call, before
validation, with the caller's own parameters (names, URLs, keys), and also for
`generate_presigned_url`, whose URL is signed with the role's credentials and so needs the same
permission. It is added to botocore's built-in handler list, so every client created afterwards
carries it, including the ones `shared.core.aws.client` builds (cached clients are dropped on
install).

One record is a JSON line: function, service (IAM prefix), operation, action, resource (an ARN),
prefix (the name prefix the resources were created with). Identical records are written once
per process.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlparse

from botocore import handlers

from infra import declaration as decl
from shared.core import resources as res

RECORD_ENV = "WEBHOOKS_RECORD_AWS_CALLS"
# AWS appends "-" and 6 random characters to a secret's name in its ARN; a name becomes this
# ARN (https://docs.aws.amazon.com/secretsmanager/latest/userguide/auth-and-access_examples.html).
SECRET_SUFFIX = "Rnd6Ch"
DEFAULT_ACCOUNT = "123456789012"  # moto's account; the check normalizes accounts anyway
IAM_PREFIX = {"stepfunctions": "states"}
FUNCTIONS_DIR = f"{Path(__file__).resolve().parents[2] / 'functions'}{os.sep}"
REPO_DIR = f"{Path(__file__).resolve().parents[2]}{os.sep}"
TESTS_DIR = f"{Path(__file__).resolve().parents[2] / 'tests'}{os.sep}"
THIS_FILE = str(Path(__file__).resolve())


def _project_code(filename: str) -> bool:
    """A frame of the project's own code (not a library in the venv, not this recorder)."""
    return (
        filename.startswith(REPO_DIR)
        and f"{os.sep}.venv{os.sep}" not in filename
        and filename != THIS_FILE
    )


FUNCTION_NAMES = frozenset(function.name for function in decl.FUNCTIONS)

Permission = tuple[str, str]  # (IAM action, resource ARN)
Attribution = Callable[[], str | None]


class Recorder:
    """Appends one JSON line per distinct (function, action, resource) to `out_path`."""

    def __init__(self, out_path: str, attribute: Attribution) -> None:
        self.out_path = out_path
        self.attribute = attribute
        self.seen: set[tuple[str, ...]] = set()
        self.prefix = ""  # the last name prefix seen: a test's late thread may outlive its env
        self.lock = threading.Lock()
        Path(out_path).parent.mkdir(parents=True, exist_ok=True)

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        """botocore handler: must return None (a value would replace the call's parameters)."""
        function = self.attribute()
        if function is None:
            return
        service = model.service_model.service_name
        try:
            needed = permissions(service, model.name, params)
        except Exception as error:  # never break the call; the check reports this record
            needed = [(f"{IAM_PREFIX.get(service, service)}:{model.name}", f"<{error!r}>")]
        self.prefix = os.environ.get(res.SECRET_PREFIX_ENV) or self.prefix
        for action, resource in needed:
            self._write(
                {
                    "function": function,
                    "service": IAM_PREFIX.get(service, service),
                    "operation": model.name,
                    "action": action,
                    "resource": resource,
                    "prefix": self.prefix,
                }
            )

    def _write(self, record: dict[str, str]) -> None:
        key = tuple(record.values())
        with self.lock:
            if key in self.seen:
                return
            self.seen.add(key)
            with open(self.out_path, "a", encoding="utf-8") as out:  # a line survives a kill
                out.write(json.dumps(record) + "\n")


def install(function_name: str, out_path: str) -> None:
    """Local mode: every call of this process is made by `function_name`'s container."""
    _register(Recorder(out_path, lambda: function_name))


def install_by_stack(out_path: str) -> None:
    """Tests: attribute each call to the innermost function whose code is on the call stack.

    Each function's code lives in `functions/<name>/` and is bundled into that Lambda only, so
    a frame from that folder names the role the call runs with. A thread started from such code
    (shared.core.batch runs records on a pool) inherits its starter's function. Calls with no
    function code on the stack (test set-up, moto's own Step Functions tasks) are not recorded.
    """
    inherit_function_in_threads()
    _register(Recorder(out_path, function_on_stack))


def _register(recorder: Recorder) -> None:
    from shared.core.aws import reset_clients

    handlers.BUILTIN_HANDLERS.append(("provide-client-params", recorder))
    reset_clients()  # clients built before now lack the handler


def function_on_stack() -> str | None:
    """The function whose code is on this thread's stack, else the one that started the thread."""
    frame: FrameType | None = sys._getframe(1)
    found = None
    innermost = True
    while frame is not None:
        filename = frame.f_code.co_filename
        if f"{os.sep}moto{os.sep}" in filename:
            return None  # the emulator calling itself (e.g. a state machine's SQS task)
        if innermost and _project_code(filename):
            innermost = False
            if filename.startswith(TESTS_DIR):
                return None  # a test's own call, even from a hook inside function code
        found = found or _function_of(filename)  # the innermost: a test may run one function
        frame = frame.f_back  # inside another's call (a processor inside the API's send)
    return found or getattr(threading.current_thread(), "_recorded_function", None)


def _function_of(filename: str) -> str | None:
    """`<repo>/functions/<name>/...` → `<name>`."""
    if not filename.startswith(FUNCTIONS_DIR):
        return None
    name, _, rest = filename[len(FUNCTIONS_DIR) :].partition(os.sep)
    return name if rest and name in FUNCTION_NAMES else None


def inherit_function_in_threads() -> None:
    """Wrap Thread.start once so a new thread remembers the function that started it."""
    start = threading.Thread.start
    if getattr(start, "_records_function", False):
        return

    def start_recording_function(thread: threading.Thread) -> None:
        thread._recorded_function = function_on_stack()  # type: ignore[attr-defined]
        start(thread)

    start_recording_function._records_function = True  # type: ignore[attr-defined]
    threading.Thread.start = start_recording_function  # type: ignore[method-assign,assignment]


# --- API operation → IAM permissions -------------------------------------------------------------


def permissions(service: str, operation: str, params: dict[str, Any]) -> list[Permission]:
    """The (action, resource) pairs IAM evaluates for one call; `*` where no resource applies."""
    by_service = {
        "dynamodb": _dynamodb,
        "sqs": _sqs,
        "s3": _s3,
        "secretsmanager": _secretsmanager,
        "stepfunctions": _stepfunctions,
    }
    if service not in by_service:
        return [(f"{IAM_PREFIX.get(service, service)}:{operation}", "*")]
    return by_service[service](operation, params)


def _region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def _arn(service: str, resource: str, account: str = DEFAULT_ACCOUNT) -> str:
    return f"arn:aws:{service}:{_region()}:{account}:{resource}"


# DynamoDB: transactions are authorized per item with the item actions
# (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html).
TRANSACT_WRITE_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def _dynamodb(operation: str, params: dict[str, Any]) -> list[Permission]:
    if operation in ("BatchGetItem", "BatchWriteItem"):
        pairs = [(operation, _table(name)) for name in params.get("RequestItems", {})]
    elif operation in ("TransactWriteItems", "TransactGetItems"):
        pairs = [
            (TRANSACT_WRITE_ACTIONS.get(kind, "GetItem"), _table(body["TableName"]))
            for item in params.get("TransactItems", [])
            for kind, body in item.items()
        ]
    elif "TableName" in params:
        table = _table(params["TableName"])
        if params.get("IndexName"):
            table += f"/index/{params['IndexName']}"
        pairs = [(operation, table)]
    else:
        pairs = [(operation, "*")]
    return [(f"dynamodb:{action}", resource) for action, resource in pairs]


def _table(name: str) -> str:
    return name if name.startswith("arn:") else _arn("dynamodb", f"table/{name}")


# SQS: the batch actions are authorized as their single-message actions
# (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-batch-api.html).
SQS_BATCH_ACTIONS = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}
# A move task reads and deletes from its source and sends to its destination with the caller's
# permissions (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_StartMessageMoveTask.html).
MOVE_TASK_SOURCE_ACTIONS = (
    "StartMessageMoveTask",
    "ReceiveMessage",
    "DeleteMessage",
    "GetQueueAttributes",
)


def _sqs(operation: str, params: dict[str, Any]) -> list[Permission]:
    if operation == "StartMessageMoveTask":
        source = params["SourceArn"]
        pairs = [(action, source) for action in MOVE_TASK_SOURCE_ACTIONS]
        return [
            *((f"sqs:{action}", arn) for action, arn in pairs),
            ("sqs:SendMessage", params.get("DestinationArn", "*")),
        ]
    if "QueueUrl" in params:
        resource = queue_arn(params["QueueUrl"])
    elif "QueueName" in params:
        resource = _arn("sqs", params["QueueName"])
    else:
        resource = params.get("SourceArn", "*")
    return [(f"sqs:{SQS_BATCH_ACTIONS.get(operation, operation)}", resource)]


def queue_arn(url: str) -> str:
    """`https://sqs.<region>.amazonaws.com/<account>/<name>` (or moto's URL) → the queue ARN."""
    parsed = urlparse(url)
    account, name = parsed.path.strip("/").split("/")[-2:]
    host = parsed.hostname or ""
    region = host.split(".")[1] if host.startswith("sqs.") else _region()
    return f"arn:aws:sqs:{region}:{account}:{name}"


# S3: HEAD and multipart parts are authorized as the object read/write they belong to
# (https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html).
S3_ACTIONS = {
    "HeadObject": "GetObject",
    "CreateMultipartUpload": "PutObject",
    "UploadPart": "PutObject",
    "CompleteMultipartUpload": "PutObject",
    "ListObjectsV2": "ListBucket",
    "HeadBucket": "ListBucket",
}


def _s3(operation: str, params: dict[str, Any]) -> list[Permission]:
    action = S3_ACTIONS.get(operation, operation)
    if operation == "GetObject" and params.get("VersionId"):
        action = "GetObjectVersion"
    if "Bucket" not in params:
        return [(f"s3:{action}", "*")]
    resource = f"arn:aws:s3:::{params['Bucket']}"
    if "Key" in params and action != "ListBucket":
        resource += f"/{params['Key']}"
    return [(f"s3:{action}", resource)]


def _secretsmanager(operation: str, params: dict[str, Any]) -> list[Permission]:
    secret_id = params.get("SecretId") or params.get("Name")
    resource = secret_arn(secret_id) if secret_id else "*"
    return [(f"secretsmanager:{operation}", resource)]


def secret_arn(secret_id: str) -> str:
    """A secret's ARN: given, or its name followed by `-` and six characters, as AWS forms it."""
    if secret_id.startswith("arn:"):
        return secret_id
    return _arn("secretsmanager", f"secret:{secret_id}-{SECRET_SUFFIX}")


def _stepfunctions(operation: str, params: dict[str, Any]) -> list[Permission]:
    resource = params.get("stateMachineArn") or params.get("executionArn") or "*"
    return [(f"states:{operation}", resource)]


def read_records(directory: Path) -> Iterator[dict[str, str]]:
    """Every record written under `directory` (one file per process)."""
    for path in sorted(directory.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                yield json.loads(line)

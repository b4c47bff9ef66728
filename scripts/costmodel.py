"""Dollars per million: list prices (scripts/prices.py) x the usage the bench measured.

Each scenario is a sum of parts, every part scaled to ONE event (or delivery):
- an API request: API Gateway request + the Lambda invocation behind it (no authorizer: the
  functions check API keys themselves, cached);
- a consumer invocation of the SQS event source mapping, amortized over its batch: the mapping's
  ReceiveMessage + DeleteMessageBatch and the Lambda request are shared by the batch's messages;
- the AWS usage the handlers caused (DynamoDB units, SQS, S3, Secrets Manager, Step Functions).

Lambda duration is charged per invocation in 1 ms steps at the function's configured memory.
Three estimates are kept: measured handler CPU (the model the issue asks for), measured wall time
(what Lambda bills: I/O waits included, here against a local moto), and CPU scaled by Lambda's
CPU share at that memory (a CPU-bound handler gets memory/1769 MB of a vCPU).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from scripts import prices
from scripts.awsbench import AwsResults, OpResult
from scripts.metering import Usage

# Lambda's START / END / REPORT lines per invocation: an estimate of their bytes.
PLATFORM_LOG_BYTES_PER_INVOCATION = 330
ESM_BATCH = 10
FIRST_SINGLE = "Outbound, first-try delivery, single-event publish"
FIRST_BATCH = "Outbound, first-try delivery, batch publish of 100"
RETRY_ONCE = "Outbound, delivered at the second attempt (one retry), single-event publish"
ENDPOINT_DOWN = "Outbound, endpoint down 24 h, default retry schedule, single-event publish"
INBOUND_NEW = "Inbound, new event (receipt + processing)"
INBOUND_DUPLICATE = "Inbound, duplicate (dropped at receipt)"
INBOUND_NEW_URL = "Inbound, new event through the inbound function URL"
INBOUND_NEW_LARGE = "Inbound, new event with a 25 KB body (receipt + processing)"
FIRST_SINGLE_URL = (
    "Outbound, first-try delivery, single-event publish through the publish function URL"
)
# Issue 14's targets, dollars per million (Lambda on handler CPU time, index writes counted).
TARGETS = {
    FIRST_SINGLE: 3.20,
    FIRST_BATCH: 1.60,
    RETRY_ONCE: 6.00,
    ENDPOINT_DOWN: 60.00,
    INBOUND_NEW: 3.50,
    INBOUND_DUPLICATE: 2.00,
}
TIME_BASES = ("cpu", "wall", "share")


@dataclass
class Line:
    component: str
    quantity: float  # units per event
    unit: str
    dollars: dict[str, float]  # per million events, by time basis (most lines: all the same)


@dataclass
class Scenario:
    name: str
    description: str
    lines: list[Line] = field(default_factory=list)
    log_bytes: float = 0.0  # per event: handler output + platform lines (outside the model)
    target: float | None = None

    def total(self, basis: str = "cpu") -> float:
        return sum(line.dollars[basis] for line in self.lines)

    def logs_dollars(self) -> float:
        return self.log_bytes * prices.CLOUDWATCH_LOGS_INGESTION.per_unit() * prices.MILLION

    def merged(self) -> list[Line]:
        """Lines with the same component summed (several parts bill the same thing)."""
        merged: dict[tuple[str, str], Line] = {}
        for line in self.lines:
            found = merged.get((line.component, line.unit))
            if found is None:
                merged[(line.component, line.unit)] = Line(
                    line.component, line.quantity, line.unit, dict(line.dollars)
                )
            else:
                found.quantity += line.quantity
                for basis, value in line.dollars.items():
                    found.dollars[basis] += value
        return sorted(merged.values(), key=lambda line: -line.dollars["cpu"])


def _flat(per_event_units: float, price: prices.Price) -> dict[str, float]:
    value = per_event_units * price.per_unit() * prices.MILLION
    return dict.fromkeys(TIME_BASES, value)


class Builder:
    def __init__(self, scenario: Scenario, memory: dict[str, int]) -> None:
        self.scenario = scenario
        self.memory = memory

    def add(self, component: str, quantity: float, unit: str, price: prices.Price) -> None:
        if quantity:
            self.scenario.lines.append(Line(component, quantity, unit, _flat(quantity, price)))

    def api_requests(self, per_event: float) -> None:
        self.add("API Gateway (HTTP API)", per_event, "requests", prices.API_GATEWAY_HTTP_REQUEST)

    def lambda_invocation(self, function: str, op: OpResult, per_event: float) -> None:
        """`per_event` invocations of `function`, each as long as measured in `op`."""
        self.add("Lambda requests", per_event, "invocations", prices.LAMBDA_REQUEST)
        memory_gb = self.memory[function] / 1024
        share = min(1.0, self.memory[function] / prices.LAMBDA_MB_PER_VCPU)
        seconds = {
            "cpu": op.cpu.get(function, 0.0),
            "wall": op.wall.get(function, 0.0),
            "share": op.cpu.get(function, 0.0) / share,
        }
        dollars = {}
        for basis, value in seconds.items():
            billed = math.ceil(value * 1000 / prices.LAMBDA_BILLING_GRANULARITY_MS) / 1000
            gb_seconds = billed * memory_gb * per_event
            dollars[basis] = gb_seconds * prices.LAMBDA_GB_SECOND_X86.per_unit() * prices.MILLION
        gb_s_cpu = math.ceil(seconds["cpu"] * 1000) / 1000 * memory_gb * per_event
        self.scenario.lines.append(Line("Lambda duration", gb_s_cpu, "GB-s", dollars))
        self.scenario.log_bytes += PLATFORM_LOG_BYTES_PER_INVOCATION * per_event

    def usage(self, usage: Usage, factor: float, transitions_per_execution: int) -> None:
        """AWS usage of an operation, `factor` times per event."""
        scaled = usage.scaled(factor)
        self.add("DynamoDB writes, table", scaled.table_wru, "WRU", prices.DYNAMODB_WRU)
        self.add("DynamoDB writes, indexes", scaled.index_wru, "WRU", prices.DYNAMODB_WRU)
        self.add("DynamoDB reads", scaled.rru, "RRU", prices.DYNAMODB_RRU)
        self.add("SQS", scaled.sqs_requests, "requests", prices.SQS_REQUEST)
        self.add("S3 PUT", scaled.s3_put, "requests", prices.S3_PUT)
        self.add("S3 GET", scaled.s3_get, "requests", prices.S3_GET)
        self.add("Secrets Manager", scaled.secrets_calls, "calls", prices.SECRETS_MANAGER_CALL)
        self.add(
            "Step Functions",
            scaled.sfn_executions * transitions_per_execution,
            "transitions",
            prices.STEP_FUNCTIONS_TRANSITION,
        )
        # The retry machine's own SQS task(s), once per execution.
        self.add("SQS", scaled.sfn_executions * machine_sqs_tasks(), "requests", prices.SQS_REQUEST)
        self.scenario.log_bytes += scaled.log_bytes

    def esm(self, batch: int) -> None:
        """The event source mapping's ReceiveMessage + DeleteMessageBatch, shared by a batch."""
        self.add("SQS", 2 / batch, "requests", prices.SQS_REQUEST)

    def api_call(
        self, op: OpResult, function: str, events_per_request: int, transitions: int
    ) -> None:
        """One event's share of an API request carrying `events_per_request` events: the request,
        the function behind it and its AWS usage."""
        share = 1 / events_per_request
        self.api_requests(share)
        self.lambda_invocation(function, op, share)
        self.usage(op.usage, share, transitions)

    def url_call(self, op: OpResult, function: str, transitions: int) -> None:
        """One request to a function's own URL: the invocation and its AWS usage (Lambda bills
        no per-request charge for function URLs)."""
        self.lambda_invocation(function, op, 1)
        self.usage(op.usage, 1, transitions)

    def consumer(self, function: str, op: OpResult, batch: int, transitions: int) -> None:
        """One message of a consumer batch of `batch` (op measured one such invocation)."""
        self.esm(batch)
        self.lambda_invocation(function, op, 1 / batch)
        self.usage(op.usage, 1 / batch, transitions)


@dataclass
class CostModel:
    scenarios: list[Scenario] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)


def build(results: AwsResults, memory: dict[str, int]) -> CostModel:
    model = CostModel()
    ops = results.ops
    transitions = results.retry_transitions

    def need(*names: str) -> bool:
        absent = [name for name in names if name not in ops or not ops[name].cpu]
        return not absent

    if need("publish_1", "worker_10_ok"):
        model.scenarios.append(first_try_single(ops, memory, transitions, via_url=False))
    else:
        model.missing["first-try delivery"] = "publish or worker measurements missing"
    if need("batch_of_100", "worker_10_ok"):
        batch = Scenario(
            FIRST_BATCH,
            "POST /v1/events/batch with 100 events each matching one webhook, per delivery; "
            "delivery as above",
        )
        b = Builder(batch, memory)
        b.api_call(ops["batch_of_100"], "publish", 100, transitions)
        b.consumer("delivery_worker", ops["worker_10_ok"], ESM_BATCH, transitions)
        model.scenarios.append(batch)
    if need("publish_10", "worker_10_ok"):
        fanout = Scenario(
            "Outbound, first-try delivery, one event fanned out to 10 webhooks",
            "POST /v1/events with one event matching 10 webhooks, per delivery; delivery as above",
        )
        b = Builder(fanout, memory)
        b.api_call(ops["publish_10"], "publish", 10, transitions)
        b.consumer("delivery_worker", ops["worker_10_ok"], ESM_BATCH, transitions)
        model.scenarios.append(fanout)
    if need("publish_1", "worker_10_ok", "worker_10_fail"):
        retry = Scenario(
            RETRY_ONCE,
            f"as the first-try row, plus a failed attempt (batch of 10), the retry machine "
            f"({transitions} state transitions: start, "
            f"{', '.join(_path_names())}, end) and its sqs:sendMessage, and the message "
            f"received again",
        )
        b = Builder(retry, memory)
        b.api_call(ops["publish_1"], "publish", 1, transitions)
        b.consumer("delivery_worker", ops["worker_10_fail"], ESM_BATCH, transitions)
        b.consumer("delivery_worker", ops["worker_10_ok"], ESM_BATCH, transitions)
        model.scenarios.append(retry)
        model.scenarios.append(endpoint_down(ops, memory, transitions))
    if need("publish_1", "worker_1_ok"):
        lonely = Scenario(
            "Outbound, first-try delivery, single-event publish, worker batches of 1",
            "as the first-try row when traffic is too thin for the event source mapping to "
            "fill batches (no batching window is configured)",
        )
        b = Builder(lonely, memory)
        b.api_call(ops["publish_1"], "publish", 1, transitions)
        b.consumer("delivery_worker", ops["worker_1_ok"], 1, transitions)
        model.scenarios.append(lonely)
    if need("inbound_new", "processor_10"):
        model.scenarios.append(inbound_new(ops, memory, transitions, via_url=False))
    else:
        model.missing["inbound new"] = results.inbound_error or "inbound measurements missing"
    if need("inbound_duplicate"):
        duplicate = Scenario(
            INBOUND_DUPLICATE,
            "POST /inbound/{source_id} repeating an X-GitHub-Delivery already received",
        )
        b = Builder(duplicate, memory)
        b.api_call(ops["inbound_duplicate"], "inbound", 1, transitions)
        model.scenarios.append(duplicate)
    else:
        model.missing["inbound duplicate"] = results.inbound_error or "measurements missing"
    if need("inbound_new", "processor_10"):
        model.scenarios.append(inbound_new(ops, memory, transitions, via_url=True))
    if need("publish_1", "worker_10_ok"):
        model.scenarios.append(first_try_single(ops, memory, transitions, via_url=True))
    if need("inbound_new_large", "processor_10_large"):
        model.scenarios.append(inbound_new_large(ops, memory, transitions))
    for scenario in model.scenarios:
        scenario.target = TARGETS.get(scenario.name)
    return model


def first_try_single(
    ops: dict[str, OpResult], memory: dict[str, int], transitions: int, *, via_url: bool
) -> Scenario:
    """One event published alone to one webhook and its share of a worker batch of 10 that
    delivers at the first attempt: posted to the API's route, or (`via_url`) to the publish
    function's own URL, which has no per-request charge."""
    by_api = Scenario(
        FIRST_SINGLE,
        "POST /v1/events with one event matching one webhook (the publish function), then one "
        "message of a delivery-worker batch of 10 succeeding at the first attempt",
    )
    scenario = _through_url(by_api, FIRST_SINGLE_URL, "publish") if via_url else by_api
    posted = (ops["publish_1"], "publish")
    consumed = (ops["worker_10_ok"], "delivery_worker")
    return _posted_then_consumed(scenario, memory, transitions, posted, consumed, via_url)


def inbound_new(
    ops: dict[str, OpResult], memory: dict[str, int], transitions: int, *, via_url: bool
) -> Scenario:
    """A new inbound event and its share of a processor batch of 10: posted to the API's route,
    or (`via_url`) to the inbound function's own URL, which has no per-request charge."""
    by_api = Scenario(
        INBOUND_NEW,
        "POST /inbound/{source_id} (GitHub preset, no authorizer), then one message of an "
        "inbound-processor batch of 10 (no forward_url)",
    )
    scenario = _through_url(by_api, INBOUND_NEW_URL, "inbound") if via_url else by_api
    posted = (ops["inbound_new"], "inbound")
    consumed = (ops["processor_10"], "inbound_processor")
    return _posted_then_consumed(scenario, memory, transitions, posted, consumed, via_url)


def inbound_new_large(
    ops: dict[str, OpResult], memory: dict[str, int], transitions: int
) -> Scenario:
    """A new inbound event whose body is too large inline even deflated, and its share of a
    processor batch of 10 such events from one source (their bodies: one S3 object)."""
    scenario = Scenario(
        INBOUND_NEW_LARGE,
        "as the inbound new-event row with a ~25 KB GitHub push body (4.6 KB deflated: past the "
        "4 KB inline limit), then one message of a processor batch of 10 such bodies from one "
        "source, stored in one S3 object",
    )
    posted = (ops["inbound_new_large"], "inbound")
    consumed = (ops["processor_10_large"], "inbound_processor")
    return _posted_then_consumed(scenario, memory, transitions, posted, consumed, False)


def _through_url(by_api: Scenario, name: str, function: str) -> Scenario:
    """The row of `by_api` when the request goes to `function`'s own URL instead."""
    return Scenario(
        name,
        f"as the '{by_api.name}' row, posted to the {function} function's own URL "
        f"(`-c {function}_function_url=true`: no API Gateway request)",
    )


def _posted_then_consumed(
    scenario: Scenario,
    memory: dict[str, int],
    transitions: int,
    posted: tuple[OpResult, str],
    consumed: tuple[OpResult, str],
    via_url: bool,
) -> Scenario:
    """A request (`posted`: the operation and its function) through the API's route or the
    function's own URL, then its message's share of a consumer batch of 10."""
    b = Builder(scenario, memory)
    if via_url:
        b.url_call(posted[0], posted[1], transitions)
    else:
        b.api_call(posted[0], posted[1], 1, transitions)
    b.consumer(consumed[1], consumed[0], ESM_BATCH, transitions)
    return scenario


DOWN_SECONDS = 86400


def attempts_while_down(delays: tuple[int, ...] | list[int], down: int) -> tuple[int, bool]:
    """(failed attempts, delivered afterwards) for an endpoint down `down` seconds from the first
    attempt: an attempt fails if it starts before the endpoint is back (jitter left out)."""
    failed, at = 1, 0
    for delay in delays:
        at += delay
        if at >= down:
            return failed, True
        failed += 1
    return failed, False


def endpoint_down(ops: dict[str, OpResult], memory: dict[str, int], transitions: int) -> Scenario:
    """A delivery to an endpoint down for a day, the default schedule, batches of 10 failures."""
    from shared.core.config import DEFAULT_RETRY_SCHEDULE

    failed, delivered = attempts_while_down(DEFAULT_RETRY_SCHEDULE, DOWN_SECONDS)
    scenario = Scenario(
        ENDPOINT_DOWN,
        f"single-event publish, then {failed} failed attempts (the default schedule "
        f"{list(DEFAULT_RETRY_SCHEDULE)} s until the endpoint is back after 24 h, jitter left "
        f"out), each priced as one message of a failing batch of 10 at that attempt, metered "
        f"with its retry carrier (≥ 10 failures a minute fill batches; the first attempt's "
        f"where a later one was not metered)"
        + (", then the delivery" if delivered else ", then dead-lettered"),
    )
    b = Builder(scenario, memory)
    b.api_call(ops["publish_1"], "publish", 1, transitions)
    for number in range(1, failed + 1):
        op = ops.get(f"worker_10_fail_at_{number}", ops["worker_10_fail"])
        b.consumer("delivery_worker", op, ESM_BATCH, transitions)
    if delivered:
        b.consumer("delivery_worker", ops["worker_10_ok"], ESM_BATCH, transitions)
    return scenario


def machine_sqs_tasks() -> int:
    """SQS task states on the retry machine's path (each one request per execution)."""
    from infra.declaration import RETRY_STATE_MACHINE_DEFINITION as definition

    states: dict[str, dict[str, object]] = definition["States"]  # type: ignore[assignment]
    return sum(
        1
        for name in _path_states()
        if states[name].get("Type") == "Task" and ":sqs:" in str(states[name].get("Resource"))
    )


def _path_states() -> list[str]:
    from infra.declaration import RETRY_STATE_MACHINE_DEFINITION as definition

    states: dict[str, dict[str, object]] = definition["States"]  # type: ignore[assignment]
    names: list[str] = []
    name: object = definition["StartAt"]
    while isinstance(name, str) and name in states and len(names) < len(states):
        names.append(name)
        name = None if states[name].get("End") else states[name].get("Next")
    return names


def _path_names() -> list[str]:
    from infra.declaration import RETRY_STATE_MACHINE_DEFINITION as definition

    states: dict[str, dict[str, object]] = definition["States"]  # type: ignore[assignment]
    names: list[str] = []
    name: object = definition["StartAt"]
    while isinstance(name, str) and name in states and len(names) < len(states):
        names.append(f"{name} ({states[name]['Type']})")
        name = None if states[name].get("End") else states[name].get("Next")
    return names


def per_component(scenario: Scenario) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for line in scenario.lines:
        totals[line.component] += line.dollars["cpu"]
    return dict(totals)

"""`make bench` (`python -m scripts.bench`): the performance and cost figures, with their methods.

Sections, in this order (the quiet-machine measurements first):
  3. cold start: handler import times beside `import boto3`, code asset and layer sizes;
  1. AWS calls per operation, 2. the cost model, 6. partition heat, 7. fixed monthly cost and
     8. storage, from one run against a moto server (the template counts of 7 from a synth in a
     child process running alongside);
  4. local throughput through `python -m infra.local`; 5. local-mode memory;
  0. the targets of issue 14, gathered from the sections above.
Prints a Markdown report and writes it to docs/benchmarks.md. Bounded: every section has a time
budget and the whole run stops starting new work after BUDGET_SECONDS. `--only cost` (repeatable
with other section names) runs one part and writes nothing unless `--output` is given.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from infra import declaration as decl
from scripts import prices
from scripts.report import Report, Row, dollars, ms, size, table

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "benchmarks.md"
BUDGET_SECONDS = 285.0  # the bound on `make bench`: 5 min in all
IMPORT_RATIO_TARGET = 1.5
HEAT_LOAD = 10_000.0  # events per second, one tenant to one webhook
ASSETS_TIMEOUT_SECONDS = 240
SYNTH_TIMEOUT_SECONDS = 120
SECTIONS = ("cold-start", "assets", "cost", "throughput", "memory")
# Figures the targets table (section 0) gathers from the other sections of this run.
MEASURED: dict[str, Any] = {}


def publish_target(webhooks: int) -> int:
    return 2 + math.ceil(webhooks / 10) + math.ceil(webhooks / 25)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    parser.add_argument("--no-layer", action="store_true", help="do not pip-build the layer")
    parser.add_argument("--no-write", action="store_true", help=f"do not write {OUTPUT}")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument(
        "--only",
        choices=SECTIONS,
        action="append",
        help="run only this section (repeatable); implies --no-write unless --output is given",
    )
    args = parser.parse_args(argv)
    chosen = set(args.only or SECTIONS)
    if args.only and args.output == OUTPUT:
        args.no_write = True
    started = time.monotonic()
    deadline = started + BUDGET_SECONDS
    report = Report("Serverless Webhooks: benchmarks")
    headings(report)
    runs = 3 if args.quick else 5
    timed_runs = 3 if args.quick else 10

    handlers = [f"functions.{function.name}.handler" for function in decl.FUNCTIONS]
    if "cold-start" in chosen:
        _section(report, "cold start", lambda: cold_start(report, handlers, runs, args.quick))
    if "assets" in chosen:
        _section(report, "assets", lambda: asset_sizes(report, args.no_layer))
    if "cost" in chosen and time.monotonic() < deadline:
        _section(
            report, "AWS calls and cost", lambda: calls_and_costs(report, timed_runs, deadline)
        )
    if "throughput" in chosen and time.monotonic() < deadline:
        events = 150 if args.quick else 300
        _section(report, "throughput", lambda: local_throughput(report, events, deadline))
    if "memory" in chosen and time.monotonic() < deadline:
        publishes = 1000 if args.quick else 2000
        _section(report, "local memory", lambda: local_memory(report, publishes, deadline))
    _section(report, "targets", lambda: target_rows(report))
    report.rows.sort(key=lambda row: [int(part) for part in row.number.split(".")])
    elapsed = time.monotonic() - started
    report.facts = machine_facts(elapsed) + report.facts
    report.section("Notes", notes())
    text = report.markdown()
    print(text, end="", flush=True)
    if not args.no_write:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)
        shown = args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output
        print(f"\n(written to {shown})")
    return 0


def _section(report: Report, name: str, body: Any) -> None:
    """Run one section; a failure becomes a row with its reason, never a crash."""
    started = time.monotonic()
    try:
        body()
    except Exception as error:
        detail = traceback.format_exception_only(type(error), error)[-1].strip()
        failed = sum(1 for row in report.rows if row.section == "9") + 1
        report.add(Row(f"9.{failed}", f"{name}: section failed", detail[:300]))
    report.facts.append(f"section {name}: {time.monotonic() - started:.0f} s")


def headings(report: Report) -> None:
    report.heading(
        "1",
        "AWS calls per operation",
        "Counted from botocore's `before-call` events on the boto3 clients the handlers use "
        "(`shared.core.aws.client`), against a moto server in a child process. Requests go through "
        "the local gateway in-process, as API Gateway calls the functions. Caches are "
        "warm: each operation ran once before the metered run.",
    )
    report.heading(
        "2",
        "Cost model (dollars per million)",
        "List prices of scripts/prices.py x the units measured per operation: DynamoDB request "
        "units from the real request and response sizes seen by botocore (WRU = ceil(item KB) of "
        "the larger of the item before and after, plus, per global secondary index of "
        "shared/core/resources.py the item enters, changes in or leaves, ceil(projected item KB) "
        "(a key change: delete + put); the table units x2 in TransactWriteItems; "
        "RRU = ceil(KB / 4) per item read, half when eventually "
        "consistent, a Query by the bytes returned), SQS requests per 64 KB chunk, S3 PUT/GET, "
        "Secrets Manager calls, Step Functions transitions of the retry machine; the event source "
        "mapping's ReceiveMessage + DeleteMessageBatch shared by a batch of 10; one API Gateway "
        "request per API request (no authorizer); Lambda GB-seconds from the "
        "MEASURED handler CPU time (time.process_time around the handler, moto out of process, "
        "median of the timed runs), rounded up to 1 ms per invocation, x the function's memory "
        "in shared/core/resources.py. Each value also gives the total with Lambda billed on "
        "measured wall time and on CPU time stretched by Lambda's CPU share (see Notes). "
        "Breakdowns below.",
    )
    report.heading(
        "3",
        "Cold start and package size",
        "Import of each handler module in a fresh `python` process (PYTHONPATH = repo root, "
        "POWERTOOLS_TRACE_DISABLED unset, AWS_LAMBDA_FUNCTION_NAME set, so the Powertools tracer "
        "imports what it does on Lambda), timed with time.perf_counter inside the child; median "
        "of interleaved runs beside `import boto3` in the same run, after one unmeasured import "
        "per module to write bytecode; the CPU ratio (time.process_time in the child) is given "
        "too, as it suffers less from a busy machine. 'no .pyc' repeats it with an empty "
        "bytecode cache, as the "
        "assets ship (no .pyc) and Lambda's code directories are read-only. Sizes: each asset "
        "built by infra/bundling.py's local bundlers into a temp dir and zipped with deflate.",
    )
    report.heading(
        "4",
        "Local throughput (bounded by moto)",
        "`python -m infra.local` in a subprocess on free ports; a receiver on 127.0.0.1; one user "
        "with one webhook; events published over HTTP, counted at the receiver (first receipt per "
        "event id); latency from sending the publish request to the receipt. **moto bounds these "
        "figures**: moto (one process) and the gateway, the SQS pollers and every handler (a "
        "second process) share this machine's cores. They measure local mode, not AWS.",
    )
    report.heading(
        "5",
        "Local-mode memory (soak)",
        "`python -m infra.local` in a subprocess; one user, one webhook to a receiver on "
        "127.0.0.1; single publishes WITH caller ids (the transactional path, the one that once "
        "grew the emulator to 13 GB) from 8 client threads, in rounds; after each round, once "
        "every event was delivered, VmRSS of the emulator process (moto) and of local mode's "
        "function containers, read from /proc. What remains is the stored items themselves, "
        "bounded by DynamoDB TTL (local mode deletes expired items as AWS does).",
    )
    report.heading(
        "0",
        "Targets (issue 14)",
        "Each row computed in this run from the sections below (row numbers in the method "
        "column): dollars per million with Lambda on handler CPU time and index writes counted, "
        "the slowest handler import, the hottest partition key. 'n/a' when the section did "
        "not run.",
    )
    report.heading("6", "Partition heat", heat_method())
    report.heading(
        "7",
        "Fixed monthly cost",
        "What does not scale with traffic, counted (scripts/fixedcost.py): secrets, the stack's "
        "(synthesized template) and per tenant (CreateSecret calls metered while one tenant was "
        "set up: user, webhook, inbound source); CloudWatch custom metrics, one per metric x "
        "dimension values in the EMF output of the metered runs (a dimension holding a tenant's "
        "user, webhook or source id: one per tenant; billed only while data arrives, so none "
        "when idle); alarms per metric they read and dashboards in the synthesized template.",
    )
    report.heading(
        "8",
        "Storage",
        "Items the metered runs left behind (their last write), sized as DynamoDB bills them "
        "plus 100 bytes per item in the table and per copy in each index it is in, projected "
        "(scripts/scale.py); raw bodies: the bytes PUT to S3. Kept N days at a steady 10 M a "
        "month: 10 M x N / 30.4 events' worth stored at any time, at $0.25 per GB-month "
        "(DynamoDB Standard) and $0.023 (S3 Standard).",
    )
    report.heading("9", "Sections that failed", "")


def machine_facts(elapsed: float) -> list[str]:
    import moto

    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    try:
        cores = subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        cores = str(os.cpu_count())
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return [
        f"run: {now}, `make bench` took {elapsed:.0f} s",
        f"machine: nproc {cores}, {cpu}, {platform.system()} {platform.machine()}",
        f"python {platform.python_version()}, moto {moto.__version__}; prices as of "
        f"{prices.PRICES_TAKEN_ON} ({prices.REGION}, scripts/prices.py)",
    ]


# ---------------------------------------------------------------- 3. cold start


sizes_from = [20]  # the first row number of the asset sizes (after the handlers' rows)


def cold_start(report: Report, handlers: list[str], runs: int, quick: bool) -> None:
    from scripts import coldstart

    validators = [coldstart.VALIDATOR, *coldstart.VALIDATOR_ALTERNATIVES]
    times = coldstart.measure(
        [*handlers, *validators], runs=runs, no_bytecode_runs=0 if quick else 3
    )
    reference = times.median(coldstart.REFERENCE)
    reference_cpu = times.median_cpu(coldstart.REFERENCE)
    reference_raw = times.median_no_bytecode(coldstart.REFERENCE)
    method = f"median of {runs} runs" + ("" if quick else "; no .pyc: median of 3")
    report.add(
        Row(
            "3.1",
            "import boto3 (reference)",
            f"{ms(reference)} (CPU {ms(reference_cpu)}; no .pyc: {ms(reference_raw)})",
            method,
        )
    )
    details: list[str] = []
    sizes_from[0] = len(handlers) + 3  # after the handlers' rows and the validator's
    for position, module in enumerate(handlers, start=2):
        number = f"3.{position}"
        if module in times.errors or reference is None:
            reason = times.errors.get(module) or times.errors.get(coldstart.REFERENCE, "")
            report.add(
                Row(
                    number,
                    f"import {module}",
                    f"n/a: {reason}",
                    method,
                    f"≤ {IMPORT_RATIO_TARGET}x boto3",
                )
            )
            continue
        median = times.median(module) or 0.0
        raw = times.median_no_bytecode(module)
        ratio = median / reference
        MEASURED.setdefault("import_ratios", {})[module] = ratio
        cpu, ref_cpu = times.median_cpu(module), reference_cpu
        cpu_ratio = f"CPU {cpu / ref_cpu:.2f}x" if cpu and ref_cpu else "CPU n/a"
        limit = IMPORT_RATIO_TARGET * reference
        report.add(
            Row(
                number,
                f"import {module}",
                f"{ms(median)} = {ratio:.2f}x boto3 ({cpu_ratio}; no .pyc: {ms(raw)})",
                method,
                f"≤ {IMPORT_RATIO_TARGET}x boto3 (≤ {ms(limit)})",
                ratio <= IMPORT_RATIO_TARGET,
            )
        )
        if ratio > IMPORT_RATIO_TARGET:
            heavy = coldstart.heaviest_packages(module)
            listed = ", ".join(f"{name} {seconds * 1000:.0f} ms" for name, seconds in heavy)
            details.append(f"- `{module}`: {listed}")
    validator_row(report, times, f"3.{len(handlers) + 2}", runs)
    if details:
        report.section(
            "Cold start: heaviest packages of the imports that miss",
            [
                "Own import time by top-level package (`python -X importtime`, one run):",
                "",
                *details,
            ],
        )


def validator_row(report: Report, times: Any, number: str, runs: int) -> None:
    """The event type catalog's JSON Schema validator: not in any handler's import (publish
    imports it on the first schema it meets), so its cost is shown beside the alternatives."""
    from scripts import coldstart

    cost = coldstart.validator_cost(runs)
    alone = times.median(coldstart.VALIDATOR)
    others = ", ".join(
        f"{name} {ms(times.median(name))}"
        for name in coldstart.VALIDATOR_ALTERNATIVES
        if times.median(name) is not None
    )
    report.add(
        Row(
            number,
            f"import {coldstart.VALIDATOR} (event type schemas; lazy, on the first schema)",
            f"{ms(cost.import_after_handler)} after the publish handler ({ms(alone)} alone; "
            f"{others}); compile {fine_ms(cost.compile)}, validate {fine_ms(cost.validate)}",
            f"median of {runs} fresh processes; compile and validate: a 2-property schema, "
            "an invalid event with every error collected",
        )
    )


def fine_ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def asset_sizes(report: Report, no_layer: bool) -> None:
    """Sizes from `python -m scripts.assets` (its own process group, killed on timeout)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "assets.json"
        command = [sys.executable, "-m", "scripts.assets", str(out)]
        if no_layer:
            command.append("--no-layer")
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
            "PIP_DEFAULT_TIMEOUT": "30",
        }
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            output, _ = process.communicate(timeout=ASSETS_TIMEOUT_SECONDS)
            cut_off = False
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
            cut_off = True
        assets = json.loads(out.read_text()) if out.is_file() else []
    if not assets:
        tail = output.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"scripts.assets failed: {tail[0][:300]}")
    if not any(asset["name"] == "dependency layer" for asset in assets):
        why = f"cut off after {ASSETS_TIMEOUT_SECONDS} s" if cut_off else "the build crashed"
        assets.append({"name": "dependency layer", "error": why, "seconds": 0.0})
    assets.sort(
        key=lambda asset: ("reference" in asset["name"], asset["name"] == "dependency layer")
    )
    method = "infra/bundling.py bundler, zipped"
    for position, asset in enumerate(assets, start=sizes_from[0]):
        name = asset["name"]
        label = name if "reference" in name or name == "dependency layer" else f"{name} code asset"
        if asset["error"]:
            value = f"n/a: {asset['error']}"
        else:
            value = (
                f"{size(asset['zipped_bytes'])} zipped ({size(asset['unzipped_bytes'])}, "
                f"{asset['files']} files)"
            )
        row_method = method
        if name == "dependency layer":
            row_method += f" (pip for manylinux x86_64, CPython 3.12: {asset['seconds']:.0f} s)"
        if "reference" in name:
            row_method = "this venv's copies zipped the same way; the Lambda runtime provides them"
        report.add(Row(f"3.{position}", f"size: {label}", value, row_method))


# ---------------------------------------------------------------- 1 + 2. calls and cost


def calls_and_costs(report: Report, timed_runs: int, deadline: float) -> None:
    from scripts import awsbench, costmodel

    MEASURED["stack"] = StackCountsChild()
    results = awsbench.run_all(timed_runs, deadline)
    ops = results.ops

    def calls_row(number: str, name: str, op_name: str, method: str, target: int | None) -> None:
        op = ops.get(op_name)
        if op is None:
            inbound = op_name.startswith(("inbound", "processor"))
            why = results.inbound_error if inbound else None
            report.add(
                Row(
                    number,
                    name,
                    f"n/a: {why or 'not measured'}",
                    method,
                    f"≤ {target}" if target is not None else "",
                )
            )
            return
        usage = op.usage
        report.add(
            Row(
                number,
                name,
                f"{usage.total_calls} ({usage.describe_calls()})",
                method,
                f"≤ {target}" if target is not None else "",
                usage.total_calls <= target if target is not None else None,
            )
        )

    calls_row(
        "1.1",
        "inbound new event",
        "inbound_new",
        "POST /inbound/{id}, github source, valid X-Hub-Signature-256",
        3,
    )
    calls_row(
        "1.2", "inbound duplicate", "inbound_duplicate", "the same X-GitHub-Delivery again", 1
    )
    calls_row(
        "1.3",
        "inbound processing, a batch of 10 events",
        "processor_10",
        "inbound processor handler, SQS event of 10 real queue messages",
        None,
    )
    for position, count in enumerate((1, 10, 100), start=4):
        calls_row(
            f"1.{position}",
            f"publish to {count} matching webhook(s)",
            f"publish_{count}",
            "POST /v1/events, one event",
            publish_target(count),
        )
    calls_row(
        "1.7",
        "successful delivery",
        "delivery_ok",
        "shared.outbound.worker.attempt on a queued delivery, receiver answers 200",
        2,
    )
    calls_row(
        "1.8",
        "failed delivery, retry scheduled",
        "delivery_fail",
        "shared.outbound.worker.attempt, receiver answers 500",
        None,
    )
    calls_row(
        "1.9",
        "10 single-event publishes",
        "ten_single_publishes",
        "10 x POST /v1/events, one webhook",
        None,
    )
    calls_row(
        "1.10",
        "one batch publish of 10 events",
        "batch_of_10",
        "POST /v1/events/batch, 10 events, one webhook",
        None,
    )
    calls_row(
        "1.11",
        "inbound processing, a batch of 10 events with 25 KB bodies",
        "processor_10_large",
        "as 1.3, each body a ~25 KB GitHub push (past the inline limit once deflated)",
        None,
    )

    memory = {function.name: function.memory_mb for function in decl.FUNCTIONS}
    model = costmodel.build(results, memory)
    MEASURED["model"] = model
    cost_rows(report, model)
    _section(report, "partition heat", lambda: heat_rows(report, results))
    _section(report, "storage", lambda: storage_rows(report, results))
    _section(report, "fixed monthly cost", lambda: fixed_rows(report, results))
    report.section("Cost breakdown (dollars per million events)", breakdown(model))
    report.section("Measured inputs of the cost model", measured_inputs(results))


def cost_rows(report: Report, model: Any) -> None:
    for position, scenario in enumerate(model.scenarios, start=1):
        value = (
            f"{dollars(scenario.total('cpu'))} (Lambda on wall time: "
            f"{dollars(scenario.total('wall'))}; at Lambda's CPU share: "
            f"{dollars(scenario.total('share'))})"
        )
        MEASURED.setdefault("rows", {})[scenario.name] = f"2.{position}"
        report.add(Row(f"2.{position}", scenario.name, value, scenario.description))
    for offset, (name, reason) in enumerate(model.missing.items(), start=len(model.scenarios) + 1):
        report.add(Row(f"2.{offset}", name, f"n/a: {reason}", ""))


def heat_method() -> str:
    from scripts.awsbench import HEAT_BATCH, HEAT_EVENTS, HEAT_SECONDS
    from scripts.scale import shard_draw
    from shared.store.shards import SHARDS

    sample, sd = shard_draw(HEAT_EVENTS)
    second, second_sd = shard_draw(int(HEAT_LOAD))
    return (
        f"One tenant, one webhook: {HEAT_EVENTS:,} events (fewer if {HEAT_SECONDS:.0f} s "
        f"run out first: the method column gives the count) published in batch requests of "
        f"{HEAT_BATCH} (POST /v1/events/batch: `publish_many`, the same items and keys as single "
        f"publishes, event by event) and their deliveries (worker batches of 10), metered: every "
        f"table and index write with its partition key value (scripts/indexwrites.py), scaled "
        f"to {HEAT_LOAD:,.0f} events/s (scripts/scale.py). A key value written U write units "
        f"in a run of N events is rated U / N x {HEAT_LOAD:,.0f} WRU/s (a key written by one "
        f"event only, an event id, at 1/N of the load: an upper bound). The hot keys end in "
        f"one of {SHARDS} shards drawn from the item id (shared/store/shards.py), so the "
        f"hottest value of a sample is high by chance: each shard draws {sample:.1f} ± {sd:.1f} "
        f"of {HEAT_EVENTS:,} events (binomial), where one real second at "
        f"{HEAT_LOAD:,.0f} events/s gives each {second:.1f} ± {second_sd:.1f}; hence the even "
        f"spread beside it. DynamoDB serves at most 1,000 WRU/s per partition, and cannot split "
        f"one whose sort keys only grow."
    )


def heat_rows(report: Report, results: Any) -> None:
    from scripts import scale

    if results.heat is None:
        report.add(Row("6.1", "partition heat", "n/a: the heat run did not run"))
        return
    events = results.heat_events
    rows = scale.heat(results.heat.writes, events, HEAT_LOAD)
    MEASURED["heat"] = rows
    report.facts.append(f"heat run: {events:,} events in {results.heat_seconds:.0f} s")
    rate = f"/ {events:,} x {HEAT_LOAD:,.0f}"
    for position, row in enumerate(rows, start=1):
        value = (
            f"{row.units_per_second:,.0f} WRU/s on its hottest key value ({row.hottest[:48]}); "
            f"spread over {_shard_text(row)}: {row.spread_per_second:,.0f} WRU/s; "
            f"mean of the {row.keys} value(s) written: {row.mean_per_second:,.0f} WRU/s"
        )
        method = (
            f"{events:,} events metered; hottest: its WRU {rate}; spread: the WRU of the "
            f"hottest value's family (the value without its last character, the shard) / "
            f"{row.shard_values} {rate}; mean: the WRU of all values / {row.keys} {rate}"
        )
        report.add(Row(f"6.{position}", row.where, value, method))


def _shard_text(row: Any) -> str:
    if row.shard_values > 1:
        return f"its family's {row.shard_values} shard values"
    return "its value alone (not sharded)"


def retention_days() -> int:
    """WEBHOOKS_RETENTION_DAYS as the functions read it, else the documented default (30)."""
    from shared.core import config

    configured = os.environ.get("WEBHOOKS_RETENTION_DAYS")
    if configured and configured.isdigit():
        return int(configured)
    return int(getattr(config, "DEFAULT_RETENTION_DAYS", 30))


PLURAL = {"delivery": "deliveries", "inbound event": "inbound events"}


def storage_rows(report: Report, results: Any) -> None:
    from scripts import scale
    from shared.core import resources as res

    tables = {table.logical_id: table for table in res.TABLES}
    per_event: dict[str, tuple[dict[str, float], float]] = {}
    if results.heat is not None:
        stored = scale.stored_bytes(tables, results.heat.final_items)
        per_event["delivery"] = (
            {name: size / results.heat_events for name, size in stored.items()},
            results.heat.s3_bytes_put / results.heat_events,
        )
    inbound = _inbound_storage(results, tables)
    if inbound is not None:
        per_event["inbound event"] = inbound
    days = sorted({retention_days(), 90})
    position = 0
    for kind, (by_table, s3_bytes) in per_event.items():
        dynamodb_bytes = sum(by_table.values())
        shown = ", ".join(f"{name} {size:.0f} B" for name, size in sorted(by_table.items()))
        method = f"per {kind}: DynamoDB {dynamodb_bytes:.0f} B ({shown}); S3 {s3_bytes:.0f} B"
        for kept in days:
            cost = scale.storage(dynamodb_bytes, s3_bytes, 10_000_000, kept)
            position += 1
            MEASURED.setdefault("storage", {})[(kind, kept)] = cost
            report.add(
                Row(
                    f"8.{position}",
                    f"10 M {PLURAL[kind]}/month kept {kept} days",
                    f"{dollars(cost.total)} per month (DynamoDB {dollars(cost.dynamodb_dollars)}, "
                    f"S3 {dollars(cost.s3_dollars)})",
                    method,
                )
            )


def _inbound_storage(results: Any, tables: dict[str, Any]) -> tuple[dict[str, float], float] | None:
    """Per inbound event: the receipt's items, replaced where processing rewrote them."""
    from scripts import scale

    receipt, processing = results.ops.get("inbound_new"), results.ops.get("processor_10")
    if receipt is None or processing is None:
        return None
    received = scale.stored_bytes(tables, receipt.usage.final_items)
    processed = scale.stored_bytes(tables, processing.usage.final_items)
    by_table = {
        name: max(received.get(name, 0) / 1, processed.get(name, 0) / 10)
        for name in {*received, *processed}
    }
    s3_bytes = receipt.usage.s3_bytes_put + processing.usage.s3_bytes_put / 10
    return by_table, s3_bytes


class StackCountsChild:
    """`python -m scripts.fixedcost` (synth: jsii) at the lowest CPU priority, started before the
    moto runs so it overlaps them: the model reads handler CPU time, which a niced neighbour
    barely moves, and the run saves the synth's ~15 s."""

    def __init__(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.out = Path(self.tmp.name) / "counts.json"
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
        }
        self.process = subprocess.Popen(
            ["nice", "-n", "19", sys.executable, "-m", "scripts.fixedcost", str(self.out)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def result(self) -> Any:
        from scripts import fixedcost

        try:
            _, errors = self.process.communicate(timeout=SYNTH_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            _, errors = self.process.communicate()
        try:
            if not self.out.is_file():
                tail = errors.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
                raise RuntimeError(f"scripts.fixedcost failed: {tail[0][:300]}")
            return fixedcost.StackCounts(**json.loads(self.out.read_text()))
        finally:
            self.tmp.cleanup()


def fixed_rows(report: Report, results: Any) -> None:
    from scripts import fixedcost

    if results.tenant is None:
        report.add(Row("7.1", "fixed monthly cost", "n/a: the tenant set-up was not metered"))
        return
    stack = MEASURED["stack"].result()
    per_tenant = results.tenant.calls.get("secretsmanager.CreateSecret", 0)
    metrics = fixedcost.split_by_tenant(fixedcost.emf_metrics(results.emf()), results.tenant_ids)
    tenants = 1000
    method = (
        f"stack: {stack.secrets} secret(s), {stack.alarms} alarms reading "
        f"{stack.alarm_metrics} metrics, {stack.dashboards} dashboard(s); per tenant: "
        f"{per_tenant} secret(s) created; custom metrics: {metrics[0]} + {metrics[1]} per tenant"
    )
    idle = fixedcost.monthly("idle", stack, tenants, per_tenant, metrics, active=False)
    busy = fixedcost.monthly("busy", stack, tenants, per_tenant, metrics, active=True)
    report.add(Row("7.1", "1,000 tenants, idle", _monthly_text(idle), method))
    traffic, storage = _traffic_and_storage(10_000_000)
    total = busy.total() + traffic + storage
    report.add(
        Row(
            "7.2",
            "1,000 tenants, 10 M deliveries/month",
            f"{dollars(total)} per month: fixed {_monthly_text(busy)}; traffic "
            f"{dollars(traffic)} (row 2.1 x 10); storage {dollars(storage)} "
            f"({retention_days()} days, section 8)",
            method + "; every tenant active all month",
        )
    )
    MEASURED["fixed"] = (idle, busy)


def _monthly_text(row: Any) -> str:
    parts = ", ".join(f"{name} {dollars(value)}" for name, value in row.dollars().items())
    return f"{dollars(row.total())} ({parts})"


def _traffic_and_storage(deliveries: int) -> tuple[float, float]:
    from scripts import costmodel

    model = MEASURED["model"]
    first = next((s for s in model.scenarios if s.name == costmodel.FIRST_SINGLE), None)
    traffic = first.total("cpu") * deliveries / 1_000_000 if first else 0.0
    storage = MEASURED.get("storage", {}).get(("delivery", retention_days()))
    return traffic, storage.total if storage else 0.0


def target_rows(report: Report) -> None:
    """Issue 14's targets, each with this run's figure: computed, never copied."""
    from scripts import costmodel

    model = MEASURED.get("model")
    rows = MEASURED.get("rows", {})
    found = {scenario.name: scenario for scenario in model.scenarios} if model else {}
    position = 0
    for name, limit in costmodel.TARGETS.items():
        position += 1
        scenario = found.get(name)
        value = dollars(scenario.total("cpu")) if scenario else "n/a: not measured"
        passed = scenario.total("cpu") <= limit if scenario else None
        where = f"row {rows[name]}" if name in rows else "section 2"
        report.add(
            Row(
                f"0.{position}", name, value, f"{where}, per million", f"≤ {dollars(limit)}", passed
            )
        )
    ratios: dict[str, float] = MEASURED.get("import_ratios", {})
    slowest = max(ratios, key=lambda module: ratios[module]) if ratios else None
    report.add(
        Row(
            f"0.{position + 1}",
            "every handler import",
            f"{ratios[slowest]:.2f}x boto3 (slowest: {slowest})" if slowest else "n/a: not run",
            "section 3",
            f"≤ {IMPORT_RATIO_TARGET}x boto3",
            ratios[slowest] <= IMPORT_RATIO_TARGET if slowest else None,
        )
    )
    heat = MEASURED.get("heat")
    hottest = heat[0] if heat else None
    report.add(
        Row(
            f"0.{position + 2}",
            f"hottest partition key at {HEAT_LOAD:,.0f} events/s, one tenant",
            f"{hottest.units_per_second:,.0f} WRU/s ({hottest.where})" if hottest else "n/a",
            "section 6: the sampled hottest key value, not its even spread",
            "≤ 1,000 WRU/s",
            hottest.within_limit if hottest else None,
        )
    )


def breakdown(model: Any) -> list[str]:
    lines: list[str] = []
    for scenario in model.scenarios:
        total = scenario.total("cpu") or 1.0
        rows = []
        for line in scenario.merged():
            quantity = f"{line.quantity:.4g} {line.unit}"
            rows.append(
                [
                    line.component,
                    quantity,
                    dollars(line.dollars["cpu"]),
                    f"{100 * line.dollars['cpu'] / total:.0f} %",
                ]
            )
        rows.append(
            [
                "**total** (Lambda on handler CPU time)",
                "",
                f"**{dollars(scenario.total('cpu'))}**",
                "100 %",
            ]
        )
        rows.append(
            ["total, Lambda billed on measured wall time", "", dollars(scenario.total("wall")), ""]
        )
        rows.append(
            ["total, Lambda CPU time at its CPU share", "", dollars(scenario.total("share")), ""]
        )
        rows.append(
            [
                f"outside the model: CloudWatch Logs ingestion ({scenario.log_bytes:.0f} B/event)",
                "",
                dollars(scenario.logs_dollars()),
                "",
            ]
        )
        lines += [f"### {scenario.name}", ""]
        lines += table(["component", "per event", "$ per million", "share"], rows)
        lines.append("")
    return lines


def measured_inputs(results: Any) -> list[str]:
    rows = []
    for op in results.ops.values():
        usage = op.usage
        timing = "; ".join(
            f"{fn} {op.cpu[fn] * 1000:.1f} ms CPU / {op.wall[fn] * 1000:.1f} ms wall"
            for fn in op.cpu
        )
        rows.append(
            [
                op.name,
                str(usage.total_calls),
                f"{usage.wru:g} ({usage.index_wru:g} index)",
                f"{usage.rru:g}",
                f"{usage.sqs_requests:g}",
                f"{usage.log_bytes:.0f}",
                timing or "-",
                str(op.runs),
            ]
        )
    return [
        "Per operation as run (not per event): AWS calls, DynamoDB write/read request units, "
        "SQS requests, bytes the handlers printed (logs, EMF metrics), and the handlers' median "
        "time per invocation over the timed runs.",
        "",
        *table(
            [
                "operation",
                "calls",
                "WRU",
                "RRU",
                "SQS",
                "log bytes",
                "handler time per invocation",
                "timed runs",
            ],
            rows,
        ),
    ]


# ---------------------------------------------------------------- 4. throughput


def local_throughput(report: Report, events: int, deadline: float) -> None:
    from scripts import throughput

    budget = max(30.0, min(180.0, deadline - time.monotonic()))
    result = throughput.run(events=events, budget=budget)
    method = (
        f"local mode up in {result.startup_seconds:.0f} s; warm-up of 5 events first; "
        f"moto-bound, not AWS"
    )
    if result.error:
        report.add(Row("4.1", "local throughput", f"n/a: {result.error}", method))
        return
    for position, phase in enumerate(result.phases, start=1):
        value = throughput.summary(phase) + (
            f"; {phase.delivered}/{phase.events} delivered, {phase.duplicates} duplicate(s)"
        )
        if phase.errors:
            value += f"; {len(phase.errors)} request error(s): {phase.errors[0]}"
        report.add(Row(f"4.{position}", f"{phase.events} events, {phase.name}", value, method))


def local_memory(report: Report, publishes: int, deadline: float) -> None:
    from scripts import soak

    budget = max(30.0, min(120.0, deadline - time.monotonic()))
    result = soak.run(events=publishes, threads=8, rounds=5, deadline_seconds=budget)
    first, last = result.samples[1], result.samples[-1]
    per_thousand = (
        (last.emulator_mb - first.emulator_mb) / (last.published - first.published) * 1000
        if last.published > first.published
        else 0.0
    )
    method = f"{publishes} publishes with ids, 8 threads, {len(result.samples) - 1} rounds"
    series = ", ".join(
        f"{sample.published:,}: {sample.emulator_mb:.0f} MB" for sample in result.samples
    )
    report.add(Row("5.1", "emulator RSS after N publishes (all delivered)", series, method))
    report.add(
        Row(
            "5.2",
            "emulator growth per 1,000 publishes (after the first round)",
            f"{per_thousand:.1f} MB (the stored event + delivery items)",
            method,
        )
    )
    containers = result.samples[-1].containers_mb
    report.add(Row("5.3", "function containers' RSS at the end", f"{containers:.0f} MB", method))
    if result.errors:
        report.add(Row("5.4", "publish errors", str(result.errors), method))


NOTES = """\
- **Billed Lambda duration is wall time**, I/O waits included (a delivery waits for the receiver,
  every handler for DynamoDB and SQS). The model counts the measured handler CPU time, as the issue
  asks; each cost row also gives the total with Lambda billed on the measured wall time. That wall
  time is against a local moto server and receiver, whose latencies are not AWS's (DynamoDB
  answers in a few ms on AWS; moto is much slower on large batches).
- Lambda gives a function CPU in proportion to its memory (one vCPU at 1,769 MB): at 512 MB a
  CPU-bound handler runs about 3.5x longer than on one core of this machine: the "CPU share" total.
- Not in the per-million rows: free tiers, volume tiers, data transfer, X-Ray traces; storage,
  secrets, custom metrics, alarms and the dashboard are monthly figures (sections 7 and 8), not
  per event. CloudWatch Logs ingestion is shown
  beside each total: handler output measured, Lambda's START/END/REPORT lines estimated at 330 B
  per invocation, API Gateway access logs not counted.
- Warm caches: each operation ran once before it was metered, so cached reads (signing secret
  60 s, API keys 10 s, admin key 300 s) cost nothing per event; a cold container pays one read
  each. No authorizer: the API functions check keys themselves (cached 10 s).
- The event source mapping is assumed to fill batches of 10: true under sustained load; with no
  batching window configured, thin traffic gets batches of 1 (see that row).
- DynamoDB units: a write counts the larger of the item before and after it, and a write to
  every global secondary index (shared/core/resources.py) the item enters (put), changes in
  (update: only if a projected attribute changed), leaves (delete) or moves in (key change:
  delete + put), each by its projected size (scripts/indexwrites.py). Method: the item before is
  read with an uncounted consistent GetItem just before the call, the item after is the request's
  item (put), a second uncounted GetItem (update) or none (delete); a failed condition writes no
  index. A Query is charged on the bytes it returned (with a FilterExpression DynamoDB
  charges the bytes it scanned); GSI reads are eventually consistent. TransactWriteItems counts 2x
  the table units of every item in it (prepare and commit), also when DynamoDB cancels it on a
  failed condition (the inbound duplicate: an upper bound), and its index writes once (they are
  propagated after the transaction completes; scripts/indexwrites.py says why).
- Step Functions: a retry execution is counted as start + each state on its path + end
  (4 transitions); at $25 per million transitions that alone is $100 per million retries.
- Payloads: ~0.5 KB of JSON data per outbound event; inbound, a 0.4 KB GitHub pull_request
  body (the large-body row: a ~25 KB push) with every header a GitHub delivery carries and those
  API Gateway adds (scripts/awsbench.py `GITHUB_DELIVERY_HEADERS`; no forward_url, no registered
  handler doing AWS work).
"""


def list_price(value: float) -> str:
    """$1.00, $0.625, $0.0000166667: every significant digit, at least two decimals."""
    whole, _, decimals = f"{value:.10f}".rstrip("0").partition(".")
    return f"${whole}.{decimals.ljust(2, '0')}"


def notes() -> list[str]:
    price_rows = [
        [
            price.name,
            f"{list_price(price.dollars)} per {price.unit}",
            "AWS page" if price.verified else "secondary pages",
        ]
        for price in prices.ALL
    ]
    return [
        *NOTES.splitlines(),
        "",
        f"Prices ({prices.REGION}, taken {prices.PRICES_TAKEN_ON}, first tier; the pages they "
        f"come from are listed in scripts/prices.py):",
        "",
        *table(["price", "list price", "checked on"], price_rows),
    ]


if __name__ == "__main__":
    sys.exit(main())

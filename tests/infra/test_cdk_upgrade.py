"""A stack deployed from the last release upgrades with `cdk deploy`, one index at a time.

AWS: CloudFormation creates or deletes at most one global secondary index of a table per stack
update ("Cannot perform more than one GSI creation or deletion in a single update"); moto and
`cdk synth` accept any number, so a release that drops two indexes synthesizes fine and fails on
the first real deploy. Tables dropping more than one therefore list them as `retired_indexes`
(shared/core/resources.py), and `-c retired_indexes_kept=N` deploys the steps between
(README: Upgrading).
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-dynamodb-table.html
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.OnlineOps.html
"""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from infra import declaration as decl
from infra.app import retired_indexes_kept
from shared.core import resources as res
from tests.infra.conftest import Synth, stage_template

pytestmark = pytest.mark.xdist_group("cdk")

RELEASED = json.loads((Path(__file__).parent / "released_indexes.json").read_text())["tables"]
MOST = max(len(table.retired_indexes) for table in res.TABLES)


def indexes(template: dict[str, Any]) -> dict[str, set[str]]:
    """Each table's index names in a synthesized template."""
    return {
        table.logical_id: {
            gsi["IndexName"]
            for gsi in template["Resources"][table.logical_id]["Properties"].get(
                "GlobalSecondaryIndexes", []
            )
        }
        for table in res.TABLES
    }


@pytest.fixture(scope="module")
def steps(synth: Any, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, set[str]]]:
    """The tables' indexes deploy by deploy: the release, each `retired_indexes_kept` from the
    most down to 1, then a plain deploy."""
    released = {name: set(names) for name, names in RELEASED.items()}
    kept = [
        indexes(
            stage_template(
                "upgrade", tmp_path_factory.mktemp(f"kept{n}"), {"retired_indexes_kept": str(n)}
            )
        )
        for n in range(MOST, 0, -1)
    ]
    return [released, *kept, indexes(synth.json)]


def test_every_released_index_is_declared_or_retired() -> None:
    assert set(RELEASED) == {table.logical_id for table in res.TABLES}
    for table in res.TABLES:
        declared = {index.name for index in table.indexes}
        retired = {index.name for index in table.retired_indexes}
        assert not declared & retired, table.logical_id
        assert set(RELEASED[table.logical_id]) - declared == retired, table.logical_id


def test_each_deploy_creates_or_deletes_at_most_one_index_per_table(
    steps: list[dict[str, set[str]]],
) -> None:
    for before, after in pairwise(steps):
        for table, names in after.items():
            changed = names ^ before[table]
            assert len(changed) <= 1, (table, sorted(before[table]), sorted(names))
    assert steps[1] == steps[0], "the first step must deploy what the release has"


def test_a_new_stack_has_no_retired_index(steps: list[dict[str, set[str]]]) -> None:
    assert steps[-1] == {t.logical_id: {i.name for i in t.indexes} for t in res.TABLES}


@pytest.mark.parametrize("value", ["-1", "x", "1.5", str(MOST + 1)])
def test_a_bad_retired_indexes_kept_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="retired_indexes_kept"):
        retired_indexes_kept(value)


def test_a_deploy_updates_the_delivery_worker_before_the_functions_that_publish(
    synth: Synth,
) -> None:
    """Publishing leaves a delivery's record to its first attempt, which a worker of an earlier
    release would take for a delivery that is gone: CloudFormation updates a resource after the
    resources it depends on (and rolls back in the reverse order), so each publishing function
    depends on the worker.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-dependson.html
    """
    worker = synth.function_id(decl.DELIVERY_WORKER)
    for spec in (decl.PUBLISH, decl.API):
        depends = synth.json["Resources"][synth.function_id(spec)].get("DependsOn", [])
        assert worker in depends, (spec.name, depends)

"""Reproducible CDK: the pinned CLI from package-lock.json, and the feature flags in cdk.json.

A flag left unset takes its old default, and the CLI warns about every one; a floating
`npx aws-cdk@2` runs whichever CLI is newest that day.
"""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path
from typing import Any

import aws_cdk
import pytest

from infra.app import FLAGS_AT_OLD_DEFAULT, cdk_json_context

pytestmark = pytest.mark.xdist_group("cdk")

ROOT = Path(__file__).resolve().parents[2]


def recommended_flags() -> dict[str, Any]:
    """What `cdk init` writes for the installed aws-cdk-lib (shipped inside its jsii bundle)."""
    (bundle,) = Path(aws_cdk.__file__).parent.glob("_jsii/aws-cdk-lib@*.jsii.tgz")
    with tarfile.open(bundle) as archive:
        member = archive.extractfile("package/recommended-feature-flags.json")
        assert member is not None
        flags: dict[str, Any] = json.load(member)
    return flags


def test_every_recommended_flag_is_set_or_explained() -> None:
    context = cdk_json_context()
    for flag, recommended in recommended_flags().items():
        assert flag in context, f"{flag} is not configured in cdk.json"
        if flag in FLAGS_AT_OLD_DEFAULT:
            assert context[flag] != recommended, f"{flag} is recommended now: drop its reason"
            assert len(FLAGS_AT_OLD_DEFAULT[flag].split()) >= 8
        else:
            assert context[flag] == recommended, flag


def test_tests_synthesize_with_the_flags_of_cdk_json(synth: Any) -> None:
    """The CLI hands cdk.json's context to the app; build_app reads it for tests too."""
    for flag, value in cdk_json_context().items():
        assert synth.app.node.try_get_context(flag) == value, flag


def test_cdk_cli_is_pinned_exactly() -> None:
    package = json.loads((ROOT / "package.json").read_text())
    lock = json.loads((ROOT / "package-lock.json").read_text())
    version = package["devDependencies"]["aws-cdk"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), version
    assert lock["packages"]["node_modules/aws-cdk"]["version"] == version
    assert lock["packages"][""]["devDependencies"] == package["devDependencies"]


def test_make_runs_the_locked_cli_only() -> None:
    """`npx --no-install` fails instead of downloading a CLI the lock file does not name."""
    makefile = (ROOT / "Makefile").read_text()
    cdk_runs = re.findall(r"^\t.*\bnpx\b.*$", makefile, flags=re.MULTILINE)
    cdk_runs += re.findall(r"^CDK\s*:?=.*$", makefile, flags=re.MULTILINE)
    assert cdk_runs
    assert all("--no-install" in line and "@" not in line for line in cdk_runs), cdk_runs
    assert "npm ci" in makefile
    ignored = {line.strip().rstrip("/") for line in (ROOT / ".gitignore").read_text().splitlines()}
    assert "node_modules" in ignored

"""Lambda code built on this machine, so `cdk synth` needs no Docker.

CDK asks a bundler's `try_bundle` before it falls back to Docker; ours always succeeds locally:
- the dependency layer is `pip install`ed for the Lambda platform (manylinux x86_64, CPython 3.12,
  wheels only) from the runtime dependencies in pyproject.toml;
- each function's code asset is a plain copy of `shared/`, `functions/__init__.py` and
  `functions/<name>/`.

Asset hashes are computed here from exactly those inputs (AssetHashType.CUSTOM), so CDK neither
fingerprints the whole repository (with its .venv) nor misses a change in `shared/`.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, cast

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_

REPO_ROOT = Path(__file__).resolve().parent.parent
LAMBDA_RUNTIME = lambda_.Runtime.PYTHON_3_12
LAMBDA_PYTHON_VERSION = "3.12"
PIP_PLATFORM = "manylinux2014_x86_64"
# The Lambda runtime ships boto3 and its own dependencies. Bundling them would grow the layer and
# put a botocore next to the runtime's boto3 that this boto3 was not released with; they also
# arrive indirectly (aws-xray-sdk, for the Powertools tracer, requires botocore), so they are
# pruned after the install as well as left out of the requirements.
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer"})
SKIPPED_PARTS = frozenset({"__pycache__"})
SKIPPED_SUFFIXES = frozenset({".pyc", ".pyo"})


def runtime_requirements(pyproject: Path = REPO_ROOT / "pyproject.toml") -> list[str]:
    """`[project].dependencies` minus what the Lambda runtime already provides."""
    with pyproject.open("rb") as handle:
        dependencies: list[str] = tomllib.load(handle)["project"]["dependencies"]
    return [req for req in dependencies if _distribution(req) not in RUNTIME_PROVIDED]


def _distribution(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement.strip())
    return match.group(0).lower().replace("_", "-") if match else ""


def pip_install_command(requirements: Sequence[str], target: Path) -> list[str]:
    """Wheels for the Lambda platform, whatever machine runs the synth."""
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",  # .pyc files of the host's Python would be dead weight on 3.12
        "--platform",
        PIP_PLATFORM,
        "--only-binary=:all:",
        "--python-version",
        LAMBDA_PYTHON_VERSION,
        "--implementation",
        "cp",
        "--target",
        str(target),
        *requirements,
    ]


@jsii.implements(cdk.ILocalBundling)
class PipLayerBundler:
    """Installs the runtime dependencies into `<output>/python`, the layout Lambda layers use."""

    def __init__(self, requirements: Sequence[str]) -> None:
        self.requirements = list(requirements)

    def asset_hash(self) -> str:
        """Changes when a requirement or a pip platform flag changes."""
        command = pip_install_command(self.requirements, Path("python"))[1:]  # not the interpreter
        return _sha256(json.dumps(command).encode())

    def try_bundle(self, output_dir: str, options: Any = None) -> bool:
        target = Path(output_dir) / "python"
        target.mkdir(parents=True, exist_ok=True)
        subprocess.run(pip_install_command(self.requirements, target), check=True)  # noqa: S603
        prune_runtime_provided(target)
        return True


def prune_runtime_provided(target: Path) -> None:
    """Drop the runtime's own packages and console scripts (no use in a layer) from `target`."""
    doomed = [target / "bin"]
    for name in RUNTIME_PROVIDED:
        doomed += [target / name, *target.glob(f"{name}-*.dist-info")]
    for path in doomed:
        shutil.rmtree(path, ignore_errors=True)


@jsii.implements(cdk.ILocalBundling)
class FunctionCodeBundler:
    """Copies one function's handler package plus the shared package into the asset."""

    def __init__(self, function_name: str, root: Path = REPO_ROOT) -> None:
        self.function_name = function_name
        self.root = root

    @property
    def handler_dir(self) -> Path:
        return self.root / "functions" / self.function_name

    def files(self) -> Iterator[tuple[Path, PurePosixPath]]:
        """(source file, path inside the asset) pairs, sorted, caches skipped."""
        for top in (self.root / "shared", self.handler_dir):
            yield from _tree(top, self.root)
        package_init = self.root / "functions" / "__init__.py"
        if package_init.is_file():
            yield package_init, PurePosixPath("functions/__init__.py")

    def asset_hash(self) -> str:
        """Over names and contents of every file that goes in, plus the function's name."""
        digest = hashlib.sha256(self.function_name.encode())
        for source, relative in sorted(self.files(), key=lambda pair: pair[1]):
            digest.update(str(relative).encode() + b"\0" + source.read_bytes() + b"\0")
        return digest.hexdigest()

    def try_bundle(self, output_dir: str, options: Any = None) -> bool:
        if not (self.handler_dir / "handler.py").is_file():
            raise FileNotFoundError(f"no handler for Lambda function: {self.handler_dir}")
        out = Path(output_dir)
        for source, relative in self.files():
            destination = out / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)
        return True


def _tree(top: Path, root: Path) -> Iterator[tuple[Path, PurePosixPath]]:
    if not top.is_dir():
        return
    for path in sorted(top.rglob("*")):
        relative = path.relative_to(root)
        if path.is_file() and not _skipped(relative):
            yield path, PurePosixPath(relative.as_posix())


def _skipped(relative: Path) -> bool:
    return bool(SKIPPED_PARTS.intersection(relative.parts)) or relative.suffix in SKIPPED_SUFFIXES


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _bundled_code(bundler: PipLayerBundler | FunctionCodeBundler) -> lambda_.Code:
    # The source path is only stat-ed: the bundler picks its own inputs and the hash is custom.
    return lambda_.Code.from_asset(
        str(REPO_ROOT),
        asset_hash=bundler.asset_hash(),
        asset_hash_type=cdk.AssetHashType.CUSTOM,
        bundling=cdk.BundlingOptions(
            image=LAMBDA_RUNTIME.bundling_image,
            # jsii passes the options positionally, so the Python signature cannot match the
            # Protocol's keyword-only one; @jsii.implements makes it an ILocalBundling.
            local=cast(cdk.ILocalBundling, bundler),
        ),
    )


def dependency_layer_code() -> lambda_.Code:
    """Code for the one dependency layer every function uses."""
    return _bundled_code(PipLayerBundler(runtime_requirements()))


def function_code(function_name: str) -> lambda_.Code:
    """Code for one function: its handler folder and the shared package."""
    return _bundled_code(FunctionCodeBundler(function_name))

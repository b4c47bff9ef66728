"""The local bundlers: what goes into a function asset, and a real bundle through CDK."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_

from infra import declaration as decl
from infra.bundling import (
    LAMBDA_RUNTIME,
    REPO_ROOT,
    FunctionCodeBundler,
    PipLayerBundler,
    function_code,
    pip_install_command,
    prune_runtime_provided,
    runtime_requirements,
)

pytestmark = pytest.mark.xdist_group("cdk")


def _fake_repo(root: Path) -> Path:
    for relative, text in {
        "shared/__init__.py": "",
        "shared/core/resources.py": "X = 1\n",
        "shared/__pycache__/resources.cpython-312.pyc": "junk",
        "functions/__init__.py": "",
        "functions/api/__init__.py": "",
        "functions/api/handler.py": "def lambda_handler(event, context): ...\n",
        "functions/api/routes/__init__.py": "",
        "functions/api/stale.pyc": "junk",
        "functions/inbound/handler.py": "other function\n",
        "infra/app.py": "not for Lambda\n",
    }.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root


def _listing(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_layer_requirements_come_from_pyproject() -> None:
    with (REPO_ROOT / "pyproject.toml").open("rb") as handle:
        declared = tomllib.load(handle)["project"]["dependencies"]
    requirements = runtime_requirements()
    assert requirements == [r for r in declared if not r.startswith("boto3")]
    assert {re.split(r"[\[<>=]", r)[0] for r in requirements} == {
        "aws-lambda-powertools",
        "pydantic",
        "requests",
        "jsonschema-rs",
    }


def test_runtime_provided_packages_are_pruned(tmp_path: Path) -> None:
    for name in ("botocore", "botocore-1.44.8.dist-info", "bin", "pydantic", "wrapt"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "x.py").write_text("")
    prune_runtime_provided(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"pydantic", "wrapt"}


def test_pip_installs_lambda_wheels(tmp_path: Path) -> None:
    command = pip_install_command(["requests>=2.32,<3"], tmp_path / "python")
    joined = " ".join(command)
    for flag in (
        "--platform manylinux2014_x86_64",
        "--only-binary=:all:",
        "--python-version 3.12",
        "--implementation cp",
        f"--target {tmp_path / 'python'}",
    ):
        assert flag in joined
    assert PipLayerBundler(["a"]).asset_hash() != PipLayerBundler(["b"]).asset_hash()


def test_function_asset_holds_its_handler_and_shared(tmp_path: Path) -> None:
    repo = _fake_repo(tmp_path / "repo")
    out = tmp_path / "out"
    assert FunctionCodeBundler("api", repo).try_bundle(str(out)) is True
    assert _listing(out) == {
        "shared/__init__.py",
        "shared/core/resources.py",
        "functions/__init__.py",
        "functions/api/__init__.py",
        "functions/api/handler.py",
        "functions/api/routes/__init__.py",
    }


def test_function_asset_hash_follows_shared_code(tmp_path: Path) -> None:
    repo = _fake_repo(tmp_path)
    before = FunctionCodeBundler("api", repo).asset_hash()
    assert FunctionCodeBundler("inbound", repo).asset_hash() != before
    (repo / "shared" / "__pycache__" / "x.pyc").write_text("ignored")
    assert FunctionCodeBundler("api", repo).asset_hash() == before
    (repo / "shared" / "resources.py").write_text("X = 2\n")
    assert FunctionCodeBundler("api", repo).asset_hash() != before


def test_missing_handler_fails_the_bundle(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        FunctionCodeBundler("nope", _fake_repo(tmp_path / "repo")).try_bundle(str(tmp_path / "o"))


def test_cdk_bundles_a_function_locally(tmp_path: Path) -> None:
    """Through CDK and jsii (bundling on, no Docker), for the smallest real function."""
    spec = decl.INBOUND
    if not (REPO_ROOT / "functions" / spec.name / "handler.py").is_file():
        pytest.skip(f"functions/{spec.name}/handler.py not written yet")
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    lambda_.Function(
        cdk.Stack(app, "BundleCheck"),
        "Fn",
        runtime=LAMBDA_RUNTIME,
        handler=spec.handler,
        code=function_code(spec.name),
    )
    app.synth()
    (asset,) = [p for p in (tmp_path / "cdk.out").glob("asset.*") if p.is_dir()]
    files = _listing(asset)
    assert f"functions/{spec.name}/handler.py" in files
    assert "functions/__init__.py" in files
    assert "shared/core/resources.py" in files
    assert not any("__pycache__" in f or f.endswith(".pyc") for f in files)
    assert not any(f.startswith(("infra/", "tests/", "functions/api/")) for f in files)


def _imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


@pytest.mark.parametrize("spec", decl.FUNCTIONS, ids=lambda f: f.name)
def test_function_code_imports_only_what_its_asset_holds(spec: decl.Function) -> None:
    """An asset holds shared/ and its own folder: importing another function would fail in AWS."""
    bundler = FunctionCodeBundler(spec.name)
    if not bundler.handler_dir.is_dir():
        pytest.skip(f"functions/{spec.name} not written yet")
    for source, relative in bundler.files():
        if source.suffix != ".py":
            continue
        for module in _imported_modules(source):
            top, _, rest = module.partition(".")
            assert top not in {"infra", "tests", "scripts"}, (relative, module)
            if top == "functions" and rest:
                assert rest.split(".")[0] == spec.name, (relative, module)

"""The layout is the architecture: each layer of `shared/` imports only the layers below it, and
no Lambda code imports CDK, local mode, tests or examples (docs/architecture.md).

core ← store ← services (access, outbound, inbound, ops) ← functions; schemas sit beside the
services (request and response models) and may use core and the providers' pure helpers.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from infra import declaration as decl
from infra.bundling import REPO_ROOT, FunctionCodeBundler

SHARED = REPO_ROOT / "shared"
ALLOWED = {
    "core": {"core"},
    "store": {"core", "store"},
    "access": {"core", "store", "access"},
    "schemas": {"core", "schemas", "inbound.providers", "outbound.ssrf", "outbound.event_schemas"},
    "outbound": {"core", "store", "schemas", "outbound"},
    "inbound": {"core", "store", "schemas", "inbound", "outbound"},
    "ops": {"core", "store", "schemas", "inbound", "outbound", "ops"},
}
NEVER_IN_LAMBDA_CODE = ("infra", "tests", "examples", "aws_cdk", "constructs", "cdk_nag")
# Imports made inside a function on purpose: pydantic stays off the delivery worker's and the
# inbound receipt's cold start; the API builds its OpenAPI page only when asked; the event type
# catalog's validator is imported by the first schema publish meets (event_schemas.py).
LAZY_ALLOWED = ("shared.schemas.", "aws_lambda_powertools.event_handler.openapi", "jsonschema_rs")


def imports(path: Path) -> Iterator[tuple[str, bool]]:
    """(module imported, whether the import is inside a function) of one file."""
    tree = ast.parse(path.read_text())
    nested: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            nested.update(id(child) for child in ast.walk(node) if child is not node)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            yield name, id(node) in nested


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "shared" and len(parts) > 2 else None


def test_each_shared_layer_imports_only_the_layers_below_it() -> None:
    wrong = []
    for path in sorted(SHARED.rglob("*.py")):
        layer = path.relative_to(SHARED).parts[0]
        if layer not in ALLOWED:
            continue
        for module, _ in imports(path):
            target = module.removeprefix("shared.")
            if not module.startswith("shared.") or module == "shared.__version__":
                continue
            if not any(target == a or target.startswith(a + ".") for a in ALLOWED[layer]):
                wrong.append(f"{path.relative_to(REPO_ROOT)} imports {module}")
    assert wrong == []


def test_lambda_code_imports_no_cdk_local_mode_tests_or_examples() -> None:
    wrong = []
    for top in ("shared", "functions"):
        for path in sorted((REPO_ROOT / top).rglob("*.py")):
            for module, _ in imports(path):
                if module.split(".")[0] in NEVER_IN_LAMBDA_CODE:
                    wrong.append(f"{path.relative_to(REPO_ROOT)} imports {module}")
    assert wrong == []


def test_no_function_level_imports_dodge_a_cycle() -> None:
    lazy = []
    for top in ("shared", "functions"):
        for path in sorted((REPO_ROOT / top).rglob("*.py")):
            for module, nested in imports(path):
                if nested and not module.startswith(LAZY_ALLOWED):
                    lazy.append(f"{path.relative_to(REPO_ROOT)} imports {module} in a function")
    assert lazy == []


def test_function_bundles_ship_only_shared_and_their_own_folder() -> None:
    for name in (function.name for function in decl.FUNCTIONS):
        shipped = {str(relative) for _, relative in FunctionCodeBundler(name).files()}
        outside = {
            path
            for path in shipped
            if not path.startswith(("shared/", f"functions/{name}/"))
            and path != "functions/__init__.py"
        }
        assert outside == set(), name

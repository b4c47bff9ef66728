"""`python -m scripts.assets OUT.json`: build every Lambda code asset and the dependency layer
with the CDK local bundlers of infra/bundling.py, zip them, and write their sizes as JSON.

Run in its own process by the bench: importing the bundlers loads the CDK (jsii starts Node),
and building the layer runs pip against PyPI. A layer that cannot be built is reported with its
reason instead of a size.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

from infra import declaration as decl


@dataclass
class Asset:
    name: str
    files: int = 0
    unzipped_bytes: int = 0
    zipped_bytes: int = 0
    seconds: float = 0.0
    error: str | None = None


def zip_tree(source: Path, archive: Path) -> tuple[int, int, int]:
    """(files, unzipped bytes, zipped bytes) of `source` zipped with deflate, as CDK does."""
    files = unzipped = 0
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as out:
        for path in sorted(source.rglob("*")):
            if path.is_file():
                out.write(path, path.relative_to(source).as_posix())
                files += 1
                unzipped += path.stat().st_size
    return files, unzipped, archive.stat().st_size


def build(name: str, bundler: object, work: Path) -> Asset:
    asset = Asset(name)
    started = time.monotonic()
    out = work / name
    out.mkdir()
    try:
        bundler.try_bundle(str(out))  # type: ignore[attr-defined]
        asset.files, asset.unzipped_bytes, asset.zipped_bytes = zip_tree(out, work / f"{name}.zip")
    except Exception as error:  # reported in the table, never fatal
        asset.error = f"{type(error).__name__}: {str(error).strip().splitlines()[-1][:300]}"
    asset.seconds = time.monotonic() - started
    return asset


def runtime_reference(work: Path) -> Asset:
    """boto3 + botocore + s3transfer as installed here (the Lambda runtime ships its own)."""
    import importlib.util

    asset = Asset("boto3+botocore+s3transfer (reference)")
    tree = work / "reference"
    tree.mkdir()
    for package in ("boto3", "botocore", "s3transfer"):
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        source = Path(next(iter(spec.submodule_search_locations)))
        os.symlink(source, tree / package)
    files = unzipped = 0
    archive = work / "reference.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as out:
        for link in sorted(tree.iterdir()):
            for path in sorted(link.resolve().rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    relative = Path(link.name) / path.relative_to(link.resolve())
                    out.write(path, relative.as_posix())
                    files += 1
                    unzipped += path.stat().st_size
    asset.files, asset.unzipped_bytes, asset.zipped_bytes = files, unzipped, archive.stat().st_size
    return asset


def main(argv: list[str]) -> None:
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    from infra.bundling import FunctionCodeBundler, PipLayerBundler, runtime_requirements

    out = Path(argv[0])
    results: list[Asset] = []

    def done(asset: Asset) -> None:
        """Keep the file current: if the layer build is cut off, the rest is still there."""
        results.append(asset)
        out.write_text(json.dumps([asdict(item) for item in results]))

    with tempfile.TemporaryDirectory(prefix="bench-assets-") as tmp:
        work = Path(tmp)
        for function in decl.FUNCTIONS:
            done(build(function.name, FunctionCodeBundler(function.name), work))
        done(runtime_reference(work))
        if "--no-layer" in argv:
            done(Asset("dependency layer", error="skipped (--no-layer)"))
        else:
            done(build("dependency layer", PipLayerBundler(runtime_requirements()), work))


if __name__ == "__main__":
    main(sys.argv[1:])

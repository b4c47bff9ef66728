"""The README's curl walkthrough works as printed, against local mode."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def walkthrough() -> str:
    text = (ROOT / "README.md").read_text()
    block = re.search(
        r"<!-- walkthrough:start -->\s*```bash\n(.*?)```\s*<!-- walkthrough:end -->", text, re.S
    )
    assert block, "README.md lost its walkthrough block"
    return block.group(1)


def test_readme_walkthrough_runs_as_printed(local) -> None:
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", walkthrough()],
        env={**os.environ, "BASE": local.base_url, "ADMIN_KEY": local.admin_key},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert '"status": "ok"' in result.stdout or '"status":"ok"' in result.stdout
    assert re.search(r"webhook: wh_[0-9A-Z]{26}", result.stdout)
    assert re.search(r'"secret": "whcms_[A-Za-z0-9+/]{43}="', result.stdout)
    assert '"type": "user.created"' in result.stdout
    assert re.search(r'"id": "dlv_[0-9A-Z]{26}"', result.stdout)

"""The repository as a fresh clone would have it: the files the tree-wide checks read."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Outside a git checkout (an exported tarball), what .gitignore would leave out.
NOT_SOURCE = {".git", ".venv", "node_modules", "var", "__pycache__", ".pytest_cache", ".ruff_cache"}


def repo_files(pattern: str) -> list[str]:
    """Repository-relative paths matching `pattern` that git tracks or would (not ignored).

    What git ignores (`.venv`, `node_modules`, `var`, build output) is not the project's code;
    a file deleted in the working tree but still tracked is skipped.
    """
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", pattern],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        listed = [
            str(p.relative_to(ROOT))
            for p in ROOT.rglob(pattern)
            if not NOT_SOURCE & set(p.relative_to(ROOT).parts)
        ]
    return sorted({f for f in listed if (ROOT / f).exists()})

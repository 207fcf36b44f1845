"""Copy deploy/nats/nats-server.conf into the `nats_conf` config of deploy/coolify/*.yml.

Coolify deploys a compose file, not the repository's other files, so NATS's configuration is
inlined there (`configs: nats_conf: content: |`, each `$` doubled: compose's escape). Run this
after the conf changes (`python deploy/coolify/sync_nats_conf.py`); tests/deploy/test_coolify.py
fails while a copy differs.
"""

from __future__ import annotations

import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONF = HERE.parent / "nats" / "nats-server.conf"
BLOCK = re.compile(r"(  nats_conf:\n    content: \|\n)((?:      .*\n|\n)+?)(?=\S|\n\S|$)")


def inline(conf: str) -> str:
    """The conf as the indented block scalar compose reads back as the file's exact text."""
    return "".join(
        f"      {line.replace('$', '$$')}\n" if line else "\n" for line in conf.splitlines()
    )


def sync(path: Path) -> bool:
    """Rewrite `path`'s inlined conf; True when it changed."""
    text = path.read_text()
    new, count = BLOCK.subn(lambda m: m.group(1) + inline(CONF.read_text()), text)
    if count and new != text:
        path.write_text(new)
        return True
    return False


if __name__ == "__main__":
    for compose in sorted(HERE.glob("*.yml")):
        if sync(compose):
            print(f"updated {compose.relative_to(HERE.parent.parent)}")

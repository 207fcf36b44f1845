"""Makes `repo_tree` (the helpers these tree-wide checks share) importable by the tests here."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

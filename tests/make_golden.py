"""Regenerate tests/golden/sample_summary.json from a real run (used by `make golden`)."""

import json
import sys
from pathlib import Path

from tests.test_e2e import GOLDEN, summary

out = Path(sys.argv[1])
GOLDEN.write_text(json.dumps(summary(out), indent=1, sort_keys=True) + "\n")
print(f"wrote {GOLDEN}", file=sys.stderr)

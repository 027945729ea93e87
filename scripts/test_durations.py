#!/usr/bin/env python3
"""Write tests/durations.json (the xdist schedule's costs) from ``--durations=0`` output.

``tests/suite_schedule.py`` starts the costliest scheduling units first; this is where it
learns what is costly. Run the suite (or a folder of it) on the CI machine with
``pytest -q -p no:cacheprovider --durations=0 --durations-min=0 ... > out.txt``, then
``python scripts/test_durations.py out.txt [more.txt ...]``: seconds (set-up + call +
teardown) are summed per scheduling unit (a module, or one case of a test named in
``suite_schedule.OWN_UNITS``). Units not in the new outputs keep their old figures.

Usage: python scripts/test_durations.py OUTPUT [OUTPUT ...]
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path.insert(0, str(TESTS))
from suite_schedule import DURATIONS, unit_of  # noqa: E402 - tests/ is not a package

LINE = re.compile(r"^(\d+(?:\.\d+)?)s (?:setup|call|teardown)\s+(\S.*)$")


def node_id(text: str) -> str:
    """The node id without the ``@group`` suffix ``--dist loadgroup`` adds."""
    at = text.rfind("@")
    return text[:at] if at > text.rfind("]") else text


def main(outputs: list[str]) -> int:
    """Sum the outputs' durations and merge them into ``tests/durations.json``."""
    if not outputs:
        sys.stderr.write(__doc__ or "")
        return 2
    per_unit: dict[str, float] = defaultdict(float)
    for output in outputs:
        for line in Path(output).read_text().splitlines():
            match = LINE.match(line.strip())
            if match:
                per_unit[unit_of(node_id(match.group(2).strip()))] += float(match.group(1))
    old = json.loads(DURATIONS.read_text())["seconds"] if DURATIONS.exists() else {}
    merged = {**old, **{unit: round(seconds, 1) for unit, seconds in per_unit.items()}}
    table = {
        "about": "seconds per xdist scheduling unit; written by scripts/test_durations.py",
        "seconds": dict(sorted(merged.items())),
    }
    DURATIONS.write_text(json.dumps(table, indent=1) + "\n")
    sys.stdout.write(f"{len(per_unit)} units from {len(outputs)} outputs -> {DURATIONS}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

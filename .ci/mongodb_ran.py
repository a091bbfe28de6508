"""Fail a MongoDB CI run unless every collected ``[mongodb]`` test passed.

    python .ci/mongodb_ran.py JUNIT_XML [--collected FILE]

JUNIT_XML is what ``pytest --junitxml`` wrote for the run. The ``[mongodb]`` tests expected are
those ``pytest --collect-only -q`` lists (read from FILE, or collected here). A test counts as
``[mongodb]`` when one of the dash-separated parts of its id is ``mongodb``
(``test_x[mongodb]``, ``test_y[mongodb-LOCAL-ID-True]``).

With ``MONGODB_URI`` set the run must have passed at least as many ``[mongodb]`` tests as were
collected (a skip, a deselection or a crash that loses tests all fail it); without it, the
script only reports the counts it sees, so it can be tried on any machine.

A skip message check would miss tests skipped for another reason, or never run at all; a count
against the collection misses nothing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

_NOT_PASSED = ("failure", "error", "skipped")


def is_mongodb(test_id: str) -> bool:
    return "mongodb" in test_id.partition("[")[2].rstrip("]").split("-")


def collected_ids(listing: str) -> list[str]:
    """The node ids of a ``pytest --collect-only -q`` listing."""
    return [line.strip() for line in listing.splitlines() if "::" in line]


def junit_outcomes(path: Path) -> dict[str, list[str]]:
    """Each test case's name, by outcome (``passed``, ``failure``, ``error``, ``skipped``)."""
    outcomes: dict[str, list[str]] = {}
    for case in ElementTree.parse(path).getroot().iter("testcase"):
        outcome = next((child.tag for child in case if child.tag in _NOT_PASSED), "passed")
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        outcomes.setdefault(outcome, []).append(name)
    return outcomes


def _collect() -> str:
    # Without the run's own options (a second --junitxml would overwrite the run's report).
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"pytest --collect-only failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("junit", type=Path, help="the run's pytest --junitxml report")
    parser.add_argument("--collected", type=Path, help="a saved pytest --collect-only -q listing")
    args = parser.parse_args(argv)
    listing = args.collected.read_text() if args.collected else _collect()
    expected = [test for test in collected_ids(listing) if is_mongodb(test)]
    outcomes = junit_outcomes(args.junit)
    counts = {
        outcome: sum(1 for name in names if is_mongodb(name)) for outcome, names in outcomes.items()
    }
    passed = counts.get("passed", 0)
    others = "".join(f", {n} {kind}" for kind, n in sorted(counts.items()) if kind != "passed")
    print(f"[mongodb] tests: {len(expected)} collected, {passed} passed{others}")
    if not os.environ.get("MONGODB_URI"):
        print("MONGODB_URI is not set: not a MongoDB run, counts only")
        return 0
    if passed < len(expected):
        missing = [
            name
            for outcome in _NOT_PASSED
            for name in outcomes.get(outcome, [])
            if is_mongodb(name)
        ]
        print(
            f"only {passed} of {len(expected)} collected [mongodb] tests passed; not passed:\n  "
            + "\n  ".join(missing[:50] or ["(none reported: tests were lost before they ran)"]),
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

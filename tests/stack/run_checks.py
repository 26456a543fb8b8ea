"""Runs every tests/stack/test_*.py check with unittest against the running stack and writes
the counts as JSON ({"passed": N, "failed": N, "skipped": N}) to the file named by argv[1].
Exit status 0 when nothing failed. Used by scripts/test; Debian's /usr/bin/python3 only."""

import json
import os
import sys
import time
import unittest


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    suite = unittest.defaultTestLoader.discover(here, pattern="test_*.py", top_level_dir=here)
    t0 = time.monotonic()
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped
    counts = {"passed": passed, "failed": failed, "skipped": skipped,
              "seconds": round(time.monotonic() - t0, 1)}
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w") as f:
            json.dump(counts, f)
    return 0 if failed == 0 and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())

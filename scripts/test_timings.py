#!/usr/bin/env python3
"""Passes `cargo test` output through unchanged and times each test binary.

    cargo test --workspace 2>&1 | python3 -u scripts/test_timings.py TIMINGS.tsv

cargo runs the test binaries one after another and announces each with a `Running ...` or
`Doc-tests ...` line, so a binary's time runs from its line to the next one (or the end). Every
finished binary is appended to TIMINGS.tsv as `seconds<TAB>name<TAB>result` as soon as the next
starts, so a run that fails or is killed still leaves the binaries done so far. `result` is
`ok`, `FAILED` or `?` (no `test result:` line seen, e.g. a crash).
"""
import re
import sys
import time

RUNNING = re.compile(r"^\s+Running (\S+(?: \S+)?) \((?:.*/)?([^/)]+?)(?:-[0-9a-f]{16})?\)\s*$")
DOCTESTS = re.compile(r"^\s+Doc-tests (\S+)\s*$")
RESULT = re.compile(r"^test result: (ok|FAILED)\.")


def main(out_path):
    current, started, result = None, None, "?"
    with open(out_path, "a") as out:
        def close():
            if current is not None:
                out.write("%.1f\t%s\t%s\n" % (time.time() - started, current, result))
                out.flush()

        for line in sys.stdin:
            sys.stdout.write(line)
            sys.stdout.flush()
            m = RUNNING.match(line)
            d = DOCTESTS.match(line)
            if m or d:
                close()
                current = ("%s (%s)" % (m.group(2), m.group(1))) if m else "doc-tests %s" % d.group(1)
                started, result = time.time(), "?"
                continue
            r = RESULT.match(line)
            if r and current is not None:
                result = "FAILED" if r.group(1) == "FAILED" or result == "FAILED" else "ok"
        close()


if __name__ == "__main__":
    main(sys.argv[1])

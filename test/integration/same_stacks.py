#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# same_stacks.py GO A.pb.gz B.pb.gz: compares two profiles' samples as a
# multiset of (call stack by function name, alloc_objects), as go tool pprof
# -raw prints them; addresses differ between runs, names do not. Prints the
# counts and the first differences; exit status 0 when they are the same.
import collections
import re
import subprocess
import sys


def load(go, path):
    raw = subprocess.run([go, "tool", "pprof", "-raw", path],
                         capture_output=True, text=True, check=True).stdout
    head, rest = raw.split("\nLocations\n", 1)
    names = {}
    for line in rest.split("\nMappings\n", 1)[0].splitlines():
        m = re.match(r"\s*(\d+): (0x[0-9a-f]+)(?: M=(\d+))? ?(\S*)", line)
        if m:
            names[m.group(1)] = m.group(4) or "M" + (m.group(3) or "?")
    stacks = collections.Counter()
    for line in head.splitlines():
        m = re.match(r"\s*(\d+)\s+\d+\s+\d+\s+\d+: (.*)", line)
        if m:
            stack = tuple(names.get(x, x) for x in m.group(2).split())
            stacks[stack] += int(m.group(1))
    return stacks


def main():
    go, a, b = sys.argv[1:4]
    x, y = load(go, a), load(go, b)
    diff = [k for k in set(x) | set(y) if x[k] != y[k]]
    print(f"stacks {len(x)} and {len(y)}, objects {sum(x.values())} and "
          f"{sum(y.values())}, {len(diff)} differ")
    for k in diff[:5]:
        print(f"  {x[k]} vs {y[k]}: {' <- '.join(k[:8])}")
    return 1 if diff or not x else 0


sys.exit(main())

#!/usr/bin/env python3
"""Names the shared-library blocks of an icount.awk count.

    icount_symbols.py SYSROOT LD_DEBUG_LOG < COUNT > COUNT

Reads icount.awk's output with "pc COUNT HEXPC" lines and the guest's
LD_DEBUG=files log (where ld.so says at which base it mapped each library),
and turns each pc line into "symbol COUNT LIBRARY:NAME", NAME being the
nearest exported symbol at or below the pc (`nm -D` of the library in
SYSROOT: stripped libraries keep only their exported functions, so a hidden
helper counts under the exported function before it). The "[shared-libraries]"
line is dropped; every other line passes through.
"""
import bisect
import os
import re
import subprocess
import sys
from collections import defaultdict


def library_bases(log_path):
    """{library file name: base address} from an LD_DEBUG=files log."""
    bases, pending = {}, None
    with open(log_path, errors="replace") as log:
        for line in log:
            m = re.search(r"file=(\S+) \[\d+\];\s+generating link map", line)
            if m:
                pending = m.group(1)
                continue
            m = re.search(r"base: (0x[0-9a-f]+)", line)
            if m and pending is not None:
                bases[os.path.basename(pending)] = int(m.group(1), 16)
                pending = None
    return bases


def find_library(sysroot, name):
    for d in ("usr/lib/aarch64-linux-gnu", "lib/aarch64-linux-gnu", "usr/lib", "lib"):
        path = os.path.join(sysroot, d, name)
        if os.path.exists(path):
            return path
    return None


def exported_functions(path):
    """Sorted [(offset, name)] of a library's defined dynamic symbols."""
    out = subprocess.run(["nm", "-D", "--defined-only", path], capture_output=True, text=True).stdout
    symbols = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TtWi":
            symbols.append((int(parts[0], 16), parts[2]))
    symbols.sort()
    return symbols


def main():
    sysroot, log_path = sys.argv[1], sys.argv[2]
    bases = sorted((base, name) for name, base in library_bases(log_path).items())
    starts = [base for base, _ in bases]
    tables = {}
    counts = defaultdict(int)
    for line in sys.stdin:
        fields = line.split()
        if not fields:
            continue
        if fields[0] == "symbol" and fields[2] == "[shared-libraries]":
            continue
        if fields[0] != "pc":
            sys.stdout.write(line)
            continue
        count, pc = int(fields[1]), int(fields[2], 16)
        i = bisect.bisect_right(starts, pc) - 1
        name = "[unknown]"
        if i >= 0:
            base, library = bases[i]
            if library not in tables:
                path = find_library(sysroot, library)
                tables[library] = exported_functions(path) if path else []
            table = tables[library]
            j = bisect.bisect_right(table, (pc - base, "\uffff")) - 1
            name = f"{library}:{table[j][1]}" if j >= 0 else f"{library}:?"
        counts[name] += count
    for name, count in counts.items():
        print("symbol", count, name)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Fails if an #include in src/ breaks the layering of docs/HACKING.md.

Usage: tests/check-layers.py [SRCDIR]   (default: <repo>/src)

Every quoted #include is resolved against the including file's folder.
The folder of each file is its layer; RULES says which other layers (or
single headers of them) it may include.  A folder missing from RULES is
an error too, so a new folder has to be placed in the table on purpose.
Last, the folder graph must be acyclic: dependencies run one way.
Prints every violation and exits 1, or exits 0 silently.
"""
import os
import re
import sys

# layer -> what it may include: a layer name (any header in it) or a
# path "layer/file.h" (that header only).  Its own layer is always fine.
RULES = {
    "util": [],
    "fs": ["util"],
    "transport": ["util"],
    "proto/scp": ["util", "fs", "transport/io.h"],
    "proto/sftp": ["util", "fs", "transport/io.h"],
    "delta": ["util", "fs"],
    "xfer": ["util", "fs", "transport/io.h", "proto/sftp", "delta"],
    "cli": ["*"],
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def layer_of(rel):
    """The layer of a path relative to src/: its folder."""
    folder = os.path.dirname(rel)
    return folder if folder else "."


def allowed(src_layer, dst_rel):
    dst_layer = layer_of(dst_rel)
    if dst_layer == src_layer:
        return True
    rules = RULES.get(src_layer, [])
    return "*" in rules or dst_layer in rules or dst_rel in rules


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    src = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                          os.path.join(here, "..", "src"))
    errors = []
    edges = {}
    for root, _dirs, files in os.walk(src):
        for name in sorted(files):
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(root, name)
            rel = os.path.relpath(path, src)
            lay = layer_of(rel)
            if lay not in RULES:
                errors.append("%s: folder %s is not in the layer table "
                              "(tests/check-layers.py, docs/HACKING.md)"
                              % (rel, lay))
                continue
            with open(path, encoding="utf-8", errors="replace") as f:
                for num, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if m is None:
                        continue
                    target = os.path.normpath(os.path.join(root,
                                                           m.group(1)))
                    trel = os.path.relpath(target, src)
                    if trel.startswith(".."):
                        errors.append("%s:%d: includes %s, outside src/"
                                      % (rel, num, m.group(1)))
                        continue
                    if not os.path.exists(target):
                        errors.append("%s:%d: includes %s, which does "
                                      "not exist" % (rel, num, m.group(1)))
                        continue
                    tlay = layer_of(trel)
                    if not allowed(lay, trel):
                        errors.append("%s:%d: %s may not include %s "
                                      "(layer %s)" % (rel, num, lay, trel,
                                                      tlay))
                    if tlay != lay:
                        edges.setdefault(lay, set()).add(tlay)
    # The folder graph must have no cycle (depth-first search).
    state = {}

    def visit(node, stack):
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cyc = stack[stack.index(nxt):] + [nxt] if nxt in stack \
                    else [node, nxt]
                errors.append("include cycle between folders: %s"
                              % " -> ".join(cyc))
            elif state.get(nxt) is None:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for node in sorted(edges):
        if state.get(node) is None:
            visit(node, [node])
    for e in errors:
        print(e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

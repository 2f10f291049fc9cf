#!/usr/bin/env python3
"""Checks scp --json output (doc/scp.1 "JSON EVENTS").

Usage: jsoncheck.py FILE EXIT [OK FAILED]   (FAILED "-": not checked)
Every line must parse as JSON with "schema": 1; the first event is
"start", the last "summary", whose "exit" must be EXIT (the real exit
status) and whose ok/failed counts, when given, OK and FAILED; each
"end" event's status is ok, skipped or failed, and a failed one has a
message.  Prints the sources of the ok files, one a line, as bytes
(names decoded with surrogateescape), to stdout.
"""
import json
import sys


def main():
    path, want_exit = sys.argv[1], int(sys.argv[2])
    with open(path, "rb") as f:
        lines = f.read().decode("utf-8").splitlines()
    ev = [json.loads(l) for l in lines]
    assert ev, "no events"
    for e in ev:
        assert e["schema"] == 1, e
    assert ev[0]["event"] == "start", ev[0]
    assert ev[-1]["event"] == "summary", ev[-1]
    assert sum(1 for e in ev if e["event"] == "summary") == 1
    s = ev[-1]
    assert s["exit"] == want_exit, "summary exit %r, real %d" % (
        s["exit"], want_exit)
    ends = [e for e in ev if e["event"] == "end"]
    for e in ends:
        assert e["status"] in ("ok", "skipped", "failed"), e
        if e["status"] == "failed":
            assert e["message"], e
        else:
            assert e["bytes"] == e["size"], e
    assert s["ok"] == sum(1 for e in ends if e["status"] == "ok")
    assert s["failed"] == sum(1 for e in ends if e["status"] == "failed")
    if len(sys.argv) > 4:
        assert s["ok"] == int(sys.argv[3]), "ok %d" % s["ok"]
        if sys.argv[4] != "-":
            assert s["failed"] == int(sys.argv[4]), "failed %d" % s["failed"]
    if want_exit != 0:
        # Every error printed on stderr is a "message" event too.
        assert s["errors"] >= 1, s
        assert any(e["event"] == "message" for e in ev)
    out = sys.stdout.buffer
    for e in ends:
        if e["status"] == "ok":
            out.write(e["source"].encode("utf-8", "surrogateescape") +
                      b"\n")


main()

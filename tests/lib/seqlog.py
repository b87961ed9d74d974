#!/usr/bin/env python3
"""Sequenced log writer and ledger for the file-tailing tests (tests/integration/file_*.sh).

Every line is `S<stream> <seq> <padding> <crc32>`: the CRC (of the text before it) tells a
delivered line that was torn or glued to another from one that arrived whole.

  seqlog.py scenario NAME --dir D --out OUT --ledger L [--lines N] [--rate R]
      writes D/app.log under load (R lines/s, in small batches) while doing NAME's
      rotations, and records every line written in L (one per line, without newline).
      Where the data would otherwise be gone from disk (truncate and rewrite, delete and
      re-create), it first waits until OUT holds everything written so far.
  seqlog.py check --ledger L --out OUT [--json]
      compares what the sink wrote (OUT, raw lines) with the ledger: lines and bytes
      written and delivered, missing, duplicated, corrupt (CRC mismatch or unknown).

Independent of sluice: only files, os and zlib.
"""
import argparse
import json
import os
import socket
import sys
import time
import zlib


def make_line(stream, seq, pad):
    body = "S%d %08d %s" % (stream, seq, "x" * pad)
    return "%s %08x" % (body, zlib.crc32(body.encode()))


def line_ok(text):
    body, _, crc = text.rpartition(" ")
    try:
        return zlib.crc32(body.encode("utf-8", "surrogateescape")) == int(crc, 16)
    except ValueError:
        return False


def count_lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


class Writer:
    """Appends sequenced lines at a rate, keeping the ledger."""

    def __init__(self, args):
        self.args = args
        self.dir = args.dir
        self.path = os.path.join(args.dir, "app.log")
        self.ledger = []
        self.seq = 0
        self.fd = None
        self.batch = 50
        self.t0 = time.monotonic()
        self.pad = args.pad

    def open(self, trunc=False):
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (os.O_TRUNC if trunc else 0)
        self.fd = os.open(self.path, flags, 0o644)

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
        self.fd = None

    def lines(self, n, fd=None, newline_last=True):
        out = []
        for _ in range(n):
            pad = self.pad if self.pad >= 0 else (self.seq * 7) % 120
            line = make_line(1, self.seq, pad)
            self.seq += 1
            self.ledger.append(line)
            out.append(line)
        data = "\n".join(out) + ("\n" if newline_last else "")
        os.write(self.fd if fd is None else fd, data.encode())
        # Pace to the rate: sleep until this many lines are due.
        due = self.t0 + self.seq / self.args.rate
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)

    def load(self, n):
        while n > 0:
            k = min(n, self.batch)
            self.lines(k)
            n -= k

    def wait_delivered(self, timeout=15.0, settle=None):
        """Until OUT has every line written; with settle, also give up once OUT has
        not grown for settle seconds (a case that may lose lines by design)."""
        end = time.monotonic() + timeout
        last, since = -1, time.monotonic()
        while time.monotonic() < end:
            have = count_lines(self.args.out)
            if have >= len(self.ledger):
                return True
            if have != last:
                last, since = have, time.monotonic()
            elif settle and time.monotonic() - since > settle:
                return False
            time.sleep(0.02)
        print("seqlog: timed out waiting for %d lines in %s (have %d)"
              % (len(self.ledger), self.args.out, count_lines(self.args.out)), file=sys.stderr)
        return False

    def settle_new_file(self):
        """A new file must be found before it is rotated away: a path-based tailer cannot
        read a file that was created and renamed out of its globs (or deleted) before it
        looked (inotify event, then its next poll; glob_interval at worst). Real rotations
        are minutes apart; on a loaded CI machine a batch can take less time than the
        tailer's wake-up, so write one batch to the new file and wait for it."""
        self.lines(self.batch)
        self.wait_delivered()

    def reopen(self):
        """The writer opens its file again (after a rotation) and waits until found."""
        self.close()
        self.open()
        self.settle_new_file()

    def save(self):
        with open(self.args.ledger, "w") as f:
            for line in self.ledger:
                f.write(line + "\n")


def scenario(args):
    w = Writer(args)
    n = args.lines
    rounds = args.rounds
    per = max(1, n // rounds)
    name = args.name
    w.open()
    if name == "create_rotate":
        # logrotate's `create`: rename the live file out of the glob, the writer keeps
        # writing to the old descriptor for a moment, then opens a new file.
        for r in range(rounds):
            w.load(per)
            os.replace(w.path, w.path + ".1")
            w.lines(20)  # late lines into the renamed file
            w.reopen()
    elif name == "copytruncate":
        # logrotate's `copytruncate`: copy, then truncate the live file in place; the
        # writer keeps its O_APPEND descriptor. Lines written between the tailer's last
        # read and the truncation exist only in the copy (outside the glob): the race.
        for r in range(rounds):
            w.load(per)
            with open(w.path, "rb") as src, open(w.path + ".1", "wb") as dst:
                dst.write(src.read())
            os.truncate(w.path, 0)
    elif name == "truncate_rewrite":
        # Truncate in place and write again, shorter and longer than before; the data
        # before the truncation is read first (waited for), since it then leaves the disk.
        for r in range(rounds):
            w.load(per if r % 2 else per // 3)
            if not w.wait_delivered():
                break
            os.truncate(w.path, 0)
    elif name == "rename_in_glob":
        # Renamed to another name the glob matches: the same file, not read again.
        for r in range(rounds):
            w.load(per)
            os.replace(w.path, os.path.join(w.dir, "app-%d.log" % r))
            w.close()
            w.open()
    elif name == "delete_open":
        # Deleted while open (writer and tailer both hold it): read to its end.
        for r in range(rounds):
            w.load(per // 2)
            os.unlink(w.path)
            w.load(per - per // 2)
            w.reopen()
    elif name == "delete_recreate":
        # Deleted and at once re-created under the same name (the inode may be reused):
        # wait for delivery first, the deleted file's unread bytes would be gone.
        for r in range(rounds):
            w.load(per)
            w.close()
            if not w.wait_delivered():
                break
            os.unlink(w.path)
            w.open()
    elif name == "partial_rotate":
        # A partial last line when the file is rotated away: delivered whole at close.
        # And a partial line completed later: delivered once, whole.
        for r in range(rounds):
            w.load(per)
            w.lines(1, newline_last=False)
            if r % 2:
                time.sleep(0.05)
                os.write(w.fd, b"\n")
            else:
                os.replace(w.path, w.path + ".1")
                w.reopen()
    elif name == "long_lines":
        # Lines several times longer than the read buffer (read_bytes: 64).
        w.pad = 900
        for r in range(rounds):
            w.load(per)
            os.replace(w.path, w.path + ".1")
            w.reopen()
    else:
        sys.exit("unknown scenario " + name)
    w.close()
    w.save()
    ok = w.wait_delivered(settle=2.0 if name == "copytruncate" else None)
    print("wrote %d lines" % len(w.ledger))
    return 0 if ok else 1


def check(args):
    with open(args.ledger, "rb") as f:
        written = f.read().decode().split("\n")[:-1]
    want = set(written)
    seen = {}
    corrupt = 0
    delivered_bytes = 0
    try:
        with open(args.out, "rb") as f:
            out = f.read()
    except FileNotFoundError:
        out = b""
    if True:
        for raw in out.split(b"\n")[:-1]:
            text = raw.decode("utf-8", "surrogateescape")
            delivered_bytes += len(raw) + 1
            if text not in want or not line_ok(text):
                corrupt += 1
                continue
            seen[text] = seen.get(text, 0) + 1
    res = {
        "written_lines": len(written),
        "written_bytes": sum(len(x) + 1 for x in written),
        "delivered_lines": sum(seen.values()) + corrupt,
        "delivered_bytes": delivered_bytes,
        "missing": sum(1 for x in written if x not in seen),
        "missing_bytes": sum(len(x) + 1 for x in written if x not in seen),
        "duplicates": sum(v - 1 for v in seen.values()),
        "corrupt": corrupt,
    }
    if args.json:
        print(json.dumps(res))
    else:
        print(" ".join("%s=%d" % kv for kv in res.items()))
    return 0


def make_socket(path):
    """Leave a listening unix socket at path (for the non-regular file test)."""
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("scenario")
    s.add_argument("name")
    s.add_argument("--dir", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--ledger", required=True)
    s.add_argument("--lines", type=int, default=20000)
    s.add_argument("--rounds", type=int, default=8)
    s.add_argument("--rate", type=float, default=20000)
    s.add_argument("--pad", type=int, default=-1)
    c = sub.add_parser("check")
    c.add_argument("--ledger", required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--json", action="store_true")
    k = sub.add_parser("socket")
    k.add_argument("path")
    a = ap.parse_args()
    if a.cmd == "scenario":
        return scenario(a)
    if a.cmd == "check":
        return check(a)
    return make_socket(a.path)


if __name__ == "__main__":
    sys.exit(main())

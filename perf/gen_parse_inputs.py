#!/usr/bin/env python3
"""Inputs for perf/bench-parse.sh: N lines of one kind, deterministic for a seed.

usage: gen_parse_inputs.py KIND N OUT [--seed S]
KIND: syslog3164, syslog5424, json, logfmt (nginx and regex read gen_nginx_log.py's lines).
Lines are built from small pools of realistic values (hosts, programs, messages, paths) so
they look like a busy server's logs: 120-330 bytes, every line valid.
"""
import argparse
import json
import random

HOSTS = ["web-%02d" % i for i in range(1, 25)] + ["db-primary", "cache-3", "lb-edge-1"]
APPS = [("sshd", True), ("nginx", True), ("kernel", False), ("CRON", True), ("systemd", True),
        ("postfix/smtpd", True), ("sudo", False), ("dockerd", True)]
MSGS = [
    "Accepted publickey for deploy from 10.0.%d.%d port %d ssh2: ED25519 SHA256:Xq3%dKp",
    "Failed password for invalid user admin from 203.0.113.%d port %d ssh2 attempt %d of %d",
    "connection reset by peer while reading response header from upstream, client: 198.51.100.%d, request: %d %d",
    "pam_unix(cron:session): session opened for user root(uid=%d) by (uid=%d) job %d id %d",
    "Started Session %d of User app; cgroup /user.slice/user-%d.slice pid %d %d",
    "NOQUEUE: reject: RCPT from unknown[192.0.2.%d]: 554 5.7.1 Relay access denied; from=<a%d@x.org> proto=ESMTP id %d",
    "out of memory: Killed process %d (java) total-vm:%dkB, anon-rss:%dkB, file-rss:0kB",
]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
PATHS = ["/", "/api/v1/users", "/api/v1/orders/%d", "/static/app.%d.js", "/login", "/health",
         "/search?q=shoes&page=%d"]
LEVELS = ["debug", "info", "info", "info", "warn", "error"]


def msg(r):
    m = r.choice(MSGS)
    return m % tuple(r.randrange(1, 65535) for _ in range(m.count("%d")))


def line(kind, r):
    if kind == "syslog3164":
        app, pid = r.choice(APPS)
        tag = "%s[%d]" % (app, r.randrange(1, 99999)) if pid else app
        return "<%d>%s %2d %02d:%02d:%02d %s %s: %s" % (
            r.randrange(0, 192), r.choice(MONTHS), r.randrange(1, 29), r.randrange(24),
            r.randrange(60), r.randrange(60), r.choice(HOSTS), tag, msg(r))
    if kind == "syslog5424":
        app, _ = r.choice(APPS)
        sd = "-" if r.random() < 0.3 else '[origin@32473 ip="10.0.%d.%d" software="sluice"][meta sequenceId="%d"]' % (
            r.randrange(256), r.randrange(256), r.randrange(1 << 20))
        return "<%d>1 2026-%02d-%02dT%02d:%02d:%02d.%06dZ %s %s %d ID%d %s %s" % (
            r.randrange(0, 192), r.randrange(1, 13), r.randrange(1, 29), r.randrange(24),
            r.randrange(60), r.randrange(60), r.randrange(1000000), r.choice(HOSTS),
            app.replace("/", "-"), r.randrange(1, 99999), r.randrange(100), sd, msg(r))
    path = r.choice(PATHS)
    if "%d" in path:
        path = path % r.randrange(10000)
    rec = {"ts": "2026-11-%02dT%02d:%02d:%02d.%03dZ" % (r.randrange(1, 29), r.randrange(24),
                                                      r.randrange(60), r.randrange(60),
                                                      r.randrange(1000)),
           "level": r.choice(LEVELS), "host": r.choice(HOSTS), "method": r.choice(["GET", "POST"]),
           "path": path, "status": r.choice([200, 200, 200, 201, 304, 404, 500]),
           "duration_ms": round(r.lognormvariate(3, 1), 3), "bytes": r.randrange(100000),
           "user": {"id": r.randrange(1 << 20), "plan": r.choice(["free", "pro"])},
           "msg": "request completed"}
    if kind == "json":
        return json.dumps(rec, separators=(",", ":"))
    if kind == "logfmt":
        return ('ts=%s level=%s host=%s method=%s path="%s" status=%d duration_ms=%s bytes=%d '
                'user_id=%d plan=%s msg="request completed"' % (
                    rec["ts"], rec["level"], rec["host"], rec["method"], rec["path"],
                    rec["status"], rec["duration_ms"], rec["bytes"], rec["user"]["id"],
                    rec["user"]["plan"]))
    raise SystemExit("unknown kind " + kind)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind")
    ap.add_argument("n", type=int)
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    r = random.Random(a.seed)
    with open(a.out, "w") as f:
        buf = []
        for _ in range(a.n):
            buf.append(line(a.kind, r))
            if len(buf) >= 10000:
                f.write("\n".join(buf) + "\n")
                buf = []
        if buf:
            f.write("\n".join(buf) + "\n")


if __name__ == "__main__":
    main()

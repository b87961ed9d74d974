#!/usr/bin/env python3
"""Append a $request_time to nginx "combined" lines (stdin -> stdout).

perf/bench-peers.sh makes its input from tests/lib/gen_nginx_log.py's combined lines with
this, giving the format

    $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time

(nginx's combined format plus the request time, a common choice) so the status stays the 9th space-separated field (mawk's $9) and the 3 digits after the
request's closing quote (perf/floor). Request times are seconds with 3 decimals, drawn from
a log-normal (median ~30 ms, long tail) by random.Random(seed): the same bytes every run.
"""
import random
import sys

def main():
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    rng = random.Random(seed)
    times = ["%.3f" % min(rng.lognormvariate(-3.5, 1.2), 60.0) for _ in range(4096)]
    out = sys.stdout.buffer
    buf = []
    k = 0
    for line in sys.stdin.buffer:
        buf.append(line[:-1] + b" " + times[(k * 2654435761 >> 7) & 4095].encode() + b"\n")
        k += 1
        if len(buf) >= 65536:
            out.write(b"".join(buf))
            buf = []
    out.write(b"".join(buf))

if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Deterministic generator of nginx "combined" access-log lines for tests and benchmarks.

Used by the integration scripts (tests/integration/*.sh) and by perf/bench-*.sh to make
inputs of any size from a seed: the same seed, count and ratio give the same bytes on every
machine (only Python's random.Random is used, whose output is stable across versions for
getrandbits/random/choice on the same seed).

Lines are assembled from pools of pre-formatted pieces (prefix, request, status+bytes,
referer+user agent) chosen by one random draw per line and written in large chunks, so a
million lines take about a second. With --bad-ratio R about a fraction R of the lines is
replaced by an odd line of one of the kinds in ODD_KINDS (truncated, bad status, missing
quote, binary garbage, "-" request, extra field, and very long but valid user agents).

--truth FILE writes what the generator meant: the number of lines, of valid lines, counts of
valid lines per status and the odd kinds used. The tests never take expected values from
it (they compute them with awk from the file); selftest() uses it to check that the awk
reference and the generator agree on what is valid.

Options: -n LINES -o FILE [--seed N] [--bad-ratio R] [--kinds k1,k2] [--truth FILE]
"""

import argparse
import json
import random
import sys

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

METHODS = [("GET", 80), ("POST", 10), ("HEAD", 4), ("PUT", 2), ("DELETE", 1), ("OPTIONS", 2),
           ("PATCH", 1)]
PROTOS = [("HTTP/1.1", 80), ("HTTP/2.0", 15), ("HTTP/1.0", 5)]
PATHS = [
    "/", "/index.html", "/favicon.ico", "/robots.txt", "/login", "/logout", "/api/v1/users",
    "/api/v1/orders", "/api/v1/orders/{n}", "/api/v2/search?q=shoes&page={n}",
    "/static/css/site.{n}.css", "/static/js/app.{n}.js", "/images/p{n}.jpg",
    "/blog/2026/{n}/hello-world", "/wp-login.php", "/.env", "/cart?item={n}&qty=2",
    "/checkout", "/health", "/metrics", "/download/file-{n}.tar.gz",
    "/search?q=%22quoted%22+term&lang=en", "/a/very/deep/path/{n}/with/many/segments/",
]
# Weighted statuses: a production-like mix with a few percent of 5xx.
STATUSES = [(200, 640), (201, 10), (204, 10), (206, 5), (301, 30), (302, 30), (304, 80),
            (400, 15), (401, 10), (403, 10), (404, 80), (405, 3), (408, 2), (429, 5),
            (499, 5), (500, 25), (502, 15), (503, 15), (504, 8), (101, 2)]
REFERERS = [
    ("-", 75), ("https://www.example.com/", 10), ("https://www.google.com/", 15),
    ("https://shop.example.com/cart?item=42", 8), ("https://news.ycombinator.com/item?id=1", 4),
    ("http://localhost:8080/admin", 3), ("android-app://com.google.android.gm/", 2),
]
# User agents cover every ua_class outcome (bot, mobile, desktop, other), mixed case, a
# backslash-escaped quote (valid per the combined format) and agents matching several
# rules (Android + Linux, Mobile + bot).
USER_AGENTS = [
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0.0.0 Safari/537.36", 16),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) Version/17.1 Safari/605.1.15", 7),
    ("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0", 6),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/119.0.0.0 Safari/537.36", 4),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
     "like Gecko) Version/17.1 Mobile/15E148 Safari/604.1", 12),
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0.6099.43 Mobile Safari/537.36", 10),
    ("Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) Version/16.6 Safari/604.1", 3),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 5),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", 3),
    ("Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)", 1),
    ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", 1),
    ("Baiduspider+(+http://www.baidu.com/search/spider.htm)", 1),
    ("SomeCRAWLER/1.0 (+https://crawler.example.org)", 1),
    ("Mozilla/5.0 (Linux; Android 10; K) Mobile Safari/537.36 (compatible; MobileBot/1.0)", 1),
    ("curl/8.4.0", 9),
    ("Wget/1.21.4", 4),
    ("python-requests/2.31.0", 6),
    ("Python-Requests/2.28.1 CPython/3.11", 1),
    ("Go-http-client/1.1", 5),
    ("-", 4),
    ("Lynx/2.9.0dev.12 libwww-FM/2.14 SSL-MM/1.4.1", 1),
    ("Mozilla/5.0 (compatible; \\\"Quoted\\\" Agent/1.0)", 1),
    ("okhttp/4.12.0", 4),
]
USERS = [("-", 97), ("alice", 2), ("bob", 1)]

ODD_KINDS = ["truncated", "bad_status_abc", "bad_status_999", "missing_quote", "binary",
             "empty_request", "extra_field", "long_ua"]
# long_ua lines are valid (long but well formed); every other kind is malformed.
VALID_ODD_KINDS = {"long_ua"}

POOL_BITS = 12
POOL = 1 << POOL_BITS
MASK = POOL - 1


def weighted(rng, items):
    values = [v for v, _ in items]
    weights = [w for _, w in items]
    return rng.choices(values, weights)[0]


def ip(rng):
    first = rng.choice([10, 66, 93, 127, 172, 185, 192, 203, 213])
    return "%d.%d.%d.%d" % (first, rng.randrange(256), rng.randrange(256), rng.randrange(1, 255))


def build_pools(rng):
    prefixes, requests, statuses, tails = [], [], [], []
    for _ in range(POOL):
        t = "%02d/%s/2026:%02d:%02d:%02d +0000" % (rng.randrange(1, 29), rng.choice(MONTHS),
                                                   rng.randrange(24), rng.randrange(60),
                                                   rng.randrange(60))
        prefixes.append(('%s - %s [%s] "' % (ip(rng), weighted(rng, USERS), t)).encode())
        path = weighted(rng, [(p, 1) for p in PATHS]).replace("{n}", str(rng.randrange(10000)))
        requests.append(('%s %s %s" ' % (weighted(rng, METHODS), path,
                                         weighted(rng, PROTOS))).encode())
        ref = weighted(rng, REFERERS)
        ua = weighted(rng, USER_AGENTS)
        tails.append(('"%s" "%s"\n' % (ref, ua)).encode())
    status_of = []
    for _ in range(POOL):
        s = weighted(rng, STATUSES)
        if s == 304 or s == 204 or s == 101:
            b = "0"
        elif rng.random() < 0.02:
            b = "-"
        else:
            b = str(int(rng.lognormvariate(8, 1.5)) % 50000000)
        statuses.append(("%d %s " % (s, b)).encode())
        status_of.append(s)
    return prefixes, requests, statuses, tails, status_of


def odd_line(rng, kind, good):
    """Return an odd line (with "\\n") made from a good line (with "\\n")."""
    body = good[:-1]
    if kind == "truncated":
        return body[:rng.randrange(1, len(body) - 1)] + b"\n"
    if kind == "bad_status_abc":
        i = body.index(b'" ') + 2
        return body[:i] + b"abc" + body[i + 3:] + b"\n"
    if kind == "bad_status_999":
        i = body.index(b'" ') + 2
        return body[:i] + b"999" + body[i + 3:] + b"\n"
    if kind == "missing_quote":
        # Drop one of the quotes: the request's opening one or the user agent's closing one.
        if rng.random() < 0.5:
            i = body.index(b'"')
            return body[:i] + body[i + 1:] + b"\n"
        return body[:-1] + b"\n"
    if kind == "binary":
        n = rng.randrange(1, 300)
        raw = bytes(rng.getrandbits(8) for _ in range(n))
        return raw.replace(b"\n", b"\x00") + b"\n"
    if kind == "empty_request":
        i = body.index(b'"')
        return body[:i] + b'"-" 400 0 "-" "-"\n'
    if kind == "extra_field":
        return body + b' "extra" 0.123\n'
    if kind == "long_ua":
        n = rng.randrange(600, 2501)
        words = []
        size = 0
        while size < n:
            w = "Ext%d/%d.%d" % (rng.randrange(1000), rng.randrange(10), rng.randrange(10))
            words.append(w)
            size += len(w) + 1
        ua = ("Mozilla/5.0 (X11; Linux x86_64) " + " ".join(words))[:n]
        i = body.rindex(b'" "')
        return body[:i + 3] + ua.encode() + b'"\n'
    raise ValueError("unknown odd kind " + kind)


def generate(out, n_lines, seed, bad_ratio, kinds, truth=None):
    rng = random.Random(seed)
    prefixes, requests, statuses, tails, status_of = build_pools(rng)
    counts = {}
    odd_counts = {k: 0 for k in kinds}
    n_valid = 0
    next_odd = n_lines
    if bad_ratio > 0 and kinds:
        next_odd = int(rng.expovariate(bad_ratio))
    chunk = 1 << 15
    done = 0
    while done < n_lines:
        m = min(chunk, n_lines - done)
        # One draw per chunk: four 16-bit words per line, each picking from one pool.
        idx = memoryview(rng.getrandbits(64 * m).to_bytes(8 * m, "little")).cast("H")
        st = idx[2::4]
        pieces = [b""] * (4 * m)
        pieces[0::4] = [prefixes[x & MASK] for x in idx[0::4]]
        pieces[1::4] = [requests[x & MASK] for x in idx[1::4]]
        pieces[2::4] = [statuses[x & MASK] for x in st]
        pieces[3::4] = [tails[x & MASK] for x in idx[3::4]]
        if truth is not None:
            for x in st:
                s = status_of[x & MASK]
                counts[s] = counts.get(s, 0) + 1
        while next_odd < done + m:
            i = next_odd - done
            kind = kinds[rng.randrange(len(kinds))]
            odd_counts[kind] += 1
            if truth is not None and kind not in VALID_ODD_KINDS:
                counts[status_of[st[i] & MASK]] -= 1
            good = b"".join(pieces[4 * i:4 * i + 4])
            pieces[4 * i:4 * i + 4] = [odd_line(rng, kind, good), b"", b"", b""]
            next_odd += 1 + int(rng.expovariate(bad_ratio))
        out.write(b"".join(pieces))
        done += m
    if truth is not None:
        n_valid = sum(counts.values())
        with open(truth, "w") as f:
            json.dump({"lines": n_lines, "valid": n_valid,
                       "by_status": {str(k): v for k, v in sorted(counts.items()) if v},
                       "odd": odd_counts}, f, indent=1, sort_keys=True)
            f.write("\n")


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", "--lines", type=int, required=True)
    ap.add_argument("-o", "--output", required=True, help="file to write ('-' = stdout)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--bad-ratio", type=float, default=0.0,
                    help="fraction of lines replaced by odd lines (0..1)")
    ap.add_argument("--kinds", default=",".join(ODD_KINDS),
                    help="comma-separated odd kinds: " + ",".join(ODD_KINDS))
    ap.add_argument("--truth", help="write the generator's own counts (JSON) here")
    a = ap.parse_args(argv)
    kinds = [k for k in a.kinds.split(",") if k]
    for k in kinds:
        if k not in ODD_KINDS:
            ap.error("unknown kind %r" % k)
    if not 0 <= a.bad_ratio < 1:
        ap.error("--bad-ratio must be in [0, 1)")
    if a.output == "-":
        generate(sys.stdout.buffer, a.lines, a.seed, a.bad_ratio, kinds, a.truth)
    else:
        with open(a.output, "wb", buffering=1 << 20) as f:
            generate(f, a.lines, a.seed, a.bad_ratio, kinds, a.truth)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

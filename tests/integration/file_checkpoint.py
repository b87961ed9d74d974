#!/usr/bin/env python3
"""Helpers of file_checkpoint.sh, independent of Sluice's code.

  gen DIR SECONDS RATE STREAMS [--rotate-every N]   append sequenced lines to DIR/sNN.log
  ledger OUT STATE [--max-dup N] [--max-torn N]      compare the sink output with the writer
  ckpt FILE [--complete DIR]                         check a checkpoint file (grammar, XXH64);
                                                     with --complete, also that it holds every
                                                     file of DIR at its full size

Every generated line is "s=<stream> n=<seq> c=<crc32 of 's=<stream> n=<seq> p=<pad>'>
p=<pad>". The writer records in STATE the last sequence number it wrote per stream (only
after the line is in the file). The ledger reads the sink's output (raw lines, optionally
with an "<event_id> " prefix) and reports lost, duplicated and corrupt lines.
"""
import os
import re
import sys
import time
import zlib

M64 = (1 << 64) - 1
P1, P2, P3, P4, P5 = (0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9,
                      0x85EBCA77C2B2AE63, 0x27D4EB2F165667C5)


def _rotl(x, r):
    return ((x << r) | (x >> (64 - r))) & M64


def _round(acc, lane):
    acc = (acc + lane * P2) & M64
    return (_rotl(acc, 31) * P1) & M64


def _merge(acc, v):
    acc ^= _round(0, v)
    return (acc * P1 + P4) & M64


def xxh64(data, seed=0):
    """XXH64, written from the specification (xxhash doc/xxhash_spec.md)."""
    n = len(data)
    i = 0
    if n >= 32:
        v = [(seed + P1 + P2) & M64, (seed + P2) & M64, seed, (seed - P1) & M64]
        while i + 32 <= n:
            for k in range(4):
                v[k] = _round(v[k], int.from_bytes(data[i + 8 * k:i + 8 * k + 8], 'little'))
            i += 32
        h = (_rotl(v[0], 1) + _rotl(v[1], 7) + _rotl(v[2], 12) + _rotl(v[3], 18)) & M64
        for k in range(4):
            h = _merge(h, v[k])
    else:
        h = (seed + P5) & M64
    h = (h + n) & M64
    while i + 8 <= n:
        h ^= _round(0, int.from_bytes(data[i:i + 8], 'little'))
        h = (_rotl(h, 27) * P1 + P4) & M64
        i += 8
    if i + 4 <= n:
        h ^= (int.from_bytes(data[i:i + 4], 'little') * P1) & M64
        h = (_rotl(h, 23) * P2 + P3) & M64
        i += 4
    while i < n:
        h ^= (data[i] * P5) & M64
        h = (_rotl(h, 11) * P1) & M64
        i += 1
    h ^= h >> 33
    h = (h * P2) & M64
    h ^= h >> 29
    h = (h * P3) & M64
    h ^= h >> 32
    return h


FILE_RE = {
    1: re.compile(rb'file (0|[1-9][0-9]*) (0|[1-9][0-9]*) (0|[1-9][0-9]*) ([0-9a-f]{16}) '
                  rb'(0|[1-9][0-9]*) (0|[1-9][0-9]*) ([01])\n'),
    # Version 2 adds the birth time (ns, 0 unknown).
    2: re.compile(rb'file (0|[1-9][0-9]*) (0|[1-9][0-9]*) (0|[1-9][0-9]*) ([0-9a-f]{16}) '
                  rb'(0|[1-9][0-9]*) (0|[1-9][0-9]*) ([01]) (0|[1-9][0-9]*)\n'),
}
END_RE = re.compile(rb'end (0|[1-9][0-9]*) ([0-9a-f]{16})\n')


def check_ckpt(data):
    """Return the list of (dev, ino, fp_len, fp, slot, off, flags, birth), or raise
    ValueError. Version 1 has no birth time: 0 there."""
    for version in (1, 2):
        magic = b'sluice-checkpoint %d\n' % version
        if data.startswith(magic):
            break
    else:
        raise ValueError('bad magic')
    pos = len(magic)
    files = []
    while True:
        m = FILE_RE[version].match(data, pos)
        if not m:
            break
        f = tuple(int(g, 16) if k == 3 else int(g) for k, g in enumerate(m.groups()))
        files.append(f if version == 2 else f + (0,))
        pos = m.end()
    m = END_RE.match(data, pos)
    if not m or m.end() != len(data):
        raise ValueError('bad end line at byte %d' % pos)
    if int(m.group(1)) != len(files):
        raise ValueError('count mismatch')
    if int(m.group(2), 16) != xxh64(data[:pos]):
        raise ValueError('checksum mismatch')
    return files


def line_for(stream, seq, pad):
    body = b's=%d n=%d p=%s' % (stream, seq, pad)
    return b's=%d n=%d c=%08x p=%s\n' % (stream, seq, zlib.crc32(body), pad)


def gen(argv):
    d, secs, rate, streams = argv[0], float(argv[1]), int(argv[2]), int(argv[3])
    rotate_every = int(argv[5]) if len(argv) > 5 and argv[4] == '--rotate-every' else 0
    state = os.path.join(d, 'writer.state')
    last = {}
    if os.path.exists(state):
        with open(state) as f:
            for ln in f:
                s, n = ln.split()
                last[int(s)] = int(n)
    fds = {}
    rotations = {}

    def open_stream(s):
        fds[s] = open(os.path.join(d, 'logs', 's%02d.log' % s), 'ab', buffering=0)

    for s in range(streams):
        last.setdefault(s, -1)
        open_stream(s)
    t0 = time.monotonic()
    batch = max(1, rate // 200)
    sent = 0
    while time.monotonic() - t0 < secs:
        for s in range(streams):
            buf = b''.join(line_for(s, last[s] + 1 + k, b'x' * ((last[s] + k) % 40))
                           for k in range(batch))
            fds[s].write(buf)
            last[s] += batch
            if rotate_every and (last[s] + 1) % rotate_every < batch:
                fds[s].close()
                rotations[s] = rotations.get(s, 0) + 1
                src = os.path.join(d, 'logs', 's%02d.log' % s)
                os.rename(src, src + '.%d.%d' % (os.getpid(), rotations[s]))
                open_stream(s)
        sent += batch * streams
        with open(state + '.tmp', 'w') as f:
            f.write(''.join('%d %d\n' % (s, n) for s, n in sorted(last.items())))
        os.rename(state + '.tmp', state)
        ahead = sent / rate - (time.monotonic() - t0)
        if ahead > 0:
            time.sleep(ahead)
    return 0


def ledger(argv):
    out, state = argv[0], argv[1]
    opt = dict(zip(argv[2::2], (int(v) for v in argv[3::2])))
    max_dup = opt.get('--max-dup')
    # A kill -9 during a write can leave a partial last line, which the next run's first
    # line then continues: one corrupt line per kill at most (its events are re-sent).
    max_torn = opt.get('--max-torn', 0)
    last = {}
    with open(state) as f:
        for ln in f:
            s, n = ln.split()
            last[int(s)] = int(n)
    seen = {}
    dups = corrupt = ids_bad = 0
    id_of = {}
    with open(out, 'rb') as f:
        for ln in f:
            eid = None
            m = re.match(rb'(\d+) ', ln)
            if m:
                eid = int(m.group(1))
                ln = ln[m.end():]
            m = re.match(rb's=(\d+) n=(\d+) c=([0-9a-f]{8}) p=(x*)\n$', ln)
            if not m:
                corrupt += 1
                continue
            s, n = int(m.group(1)), int(m.group(2))
            body = b's=%d n=%d p=%s' % (s, n, m.group(4))
            if zlib.crc32(body) != int(m.group(3), 16):
                corrupt += 1
                continue
            key = (s, n)
            if key in seen:
                dups += 1
                if eid is not None and id_of.get(key) != eid:
                    ids_bad += 1
            seen[key] = 1
            if eid is not None:
                id_of[key] = eid
    lost = sum(1 for s, hi in last.items() for n in range(hi + 1) if (s, n) not in seen)
    written = sum(hi + 1 for hi in last.values())
    print('# ledger: written=%d delivered=%d lost=%d duplicated=%d corrupt=%d '
          'duplicate_ids_differ=%d' % (written, len(seen), lost, dups, corrupt, ids_bad))
    ok = lost == 0 and corrupt <= max_torn and ids_bad == 0
    if max_dup is not None and dups > max_dup:
        print('# too many duplicates: %d > %d' % (dups, max_dup))
        ok = False
    return 0 if ok else 1


def ckpt(argv):
    with open(argv[0], 'rb') as f:
        data = f.read()
    try:
        files = check_ckpt(data)
    except ValueError as e:
        print('# checkpoint %s invalid: %s' % (argv[0], e))
        return 1
    if len(argv) > 2 and argv[1] == '--complete':
        at = {(dev, ino): off for dev, ino, _, _, _, off, _, _ in files}
        for name in sorted(os.listdir(argv[2])):
            st = os.stat(os.path.join(argv[2], name))
            if at.get((st.st_dev, st.st_ino)) != st.st_size:
                print('# checkpoint %s: %s (%d bytes) at %s' %
                      (argv[0], name, st.st_size, at.get((st.st_dev, st.st_ino))))
                return 1
    print('# checkpoint ok: %d file(s)' % len(files))
    return 0


def corpus(argv):
    """Write fuzz corpus seeds: valid checkpoints and near misses."""
    d = argv[0]
    os.makedirs(d, exist_ok=True)

    def valid(lines, version=1):
        body = b'sluice-checkpoint %d\n' % version + b''.join(lines)
        return body + b'end %d %016x\n' % (len(lines), xxh64(body))

    seeds = {
        'empty_valid': valid([]),
        'one': valid([b'file 2049 131 1024 0123456789abcdef 17 4096 0\n']),
        'two_skip': valid([b'file 1 2 3 00000000000000ff 4 5 1\n',
                           b'file 18446744073709551615 7 0 ffffffffffffffff 65535 '
                           b'281474976710655 0\n']),
        'bad_sum': b'sluice-checkpoint 1\nend 0 0000000000000000\n',
        'truncated': valid([b'file 1 2 3 00000000000000ff 4 5 0\n'])[:40],
        'nothing': b'',
        'v2_empty': valid([], 2),
        'v2_two': valid([b'file 2049 131 1024 0123456789abcdef 17 4096 0 1795966162099585781\n',
                         b'file 1 2 3 00000000000000ff 4 5 1 0\n'], 2),
        'v2_no_birth': valid([b'file 1 2 3 00000000000000ff 4 5 1\n'], 2),
        'v1_with_birth': valid([b'file 1 2 3 00000000000000ff 4 5 1 7\n'], 1),
    }
    for name, data in seeds.items():
        with open(os.path.join(d, name), 'wb') as f:
            f.write(data)
    return 0


if __name__ == '__main__':
    cmd = sys.argv[1]
    sys.exit({'gen': gen, 'ledger': ledger, 'ckpt': ckpt, 'corpus': corpus}[cmd](sys.argv[2:]))

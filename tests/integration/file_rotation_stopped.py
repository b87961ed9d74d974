#!/usr/bin/env python3
"""Helpers of file_rotation_stopped.sh, independent of Sluice's code.

  write DIR SECONDS RATE ROTATE_S [NAME]
                                    append sequenced lines to DIR/logs/NAME (app.log) at RATE
                                    lines/s, rotating logrotate's numbered way every
                                    ROTATE_S seconds (app.log.N -> app.log.N+1, app.log ->
                                    app.log.1, new app.log); DIR/files.jsonl records every
                                    file: inode, creation and rotation times, lines and bytes
  check OUT DIR [--stops F] [--outside-glob] [--max-dup N] [--max-torn N]
                                    ledger of the sink's output OUT against the writer's
  offsets OUT FILE                  every event id (raw sink, event_id: true) names the
                                    byte offset of its line in FILE

check: with --outside-glob the rotated names are outside the source's globs, so a file
that was created and rotated away while sluice was stopped cannot be found (it was never
seen nor checkpointed). F holds one "KILL_TIME RESTART_TIME [COMMIT_TIME]" line per stop
(time.time() clock; COMMIT_TIME: the mtime of the checkpoint sluice resumes from, 0 when
there was none); with T the earlier of KILL_TIME and COMMIT_TIME, a file created after
T - 0.5 s (a file that new may not be in that checkpoint: glob scan and commit intervals)
and rotated before RESTART_TIME is "unreachable": its lines may be missing and are
reported as such; every other line must be delivered. Lines are file_checkpoint.py's:
"s=<stream> n=<seq> c=<crc32> p=<pad>". T is not simply KILL_TIME: a commit is two fsyncs,
and on a busy virtual disk the last one before a kill may be older than 0.5 s (the likely
cause, not observed, of CI of fc35871's ASan failure: two files' lines counted lost).

moved CKPT DIR SUFFIX: how many files of checkpoint CKPT are in DIR under a name not
ending in SUFFIX (rotated out of the globs); when it is above 0, a restart from CKPT must
log that it found checkpointed files moved out of the globs.
"""
import json
import os
import re
import sys
import time
import zlib

LINE_RE = re.compile(rb's=(\d+) n=(\d+) c=([0-9a-f]{8}) p=(x*)\n$')


def line_for(seq):
    pad = b'x' * (seq % 40)
    body = b's=0 n=%d p=%s' % (seq, pad)
    return b's=0 n=%d c=%08x p=%s\n' % (seq, zlib.crc32(body), pad)


def write(argv):
    d, secs, rate, rot = argv[0], float(argv[1]), int(argv[2]), float(argv[3])
    name = argv[4] if len(argv) > 4 else 'app.log'
    logs = os.path.join(d, 'logs')
    path = os.path.join(logs, name)
    # Runs may follow each other: sequence numbers and the ledger go on.
    ledger = open(os.path.join(d, 'files.jsonl'), 'a')
    state = os.path.join(d, 'writer.seq')
    gen = 0
    cur = None

    def new_file():
        nonlocal cur, fd
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        cur = {'gen': gen, 'ino': os.fstat(fd).st_ino, 'created': time.time(),
               'first': None, 'last': None, 'bytes': 0}

    def close_file(rotated):
        cur['rotated'] = rotated
        ledger.write(json.dumps(cur) + '\n')
        ledger.flush()
        os.close(fd)

    fd = -1
    new_file()
    t0 = time.monotonic()
    next_rot = t0 + rot
    batch = max(1, rate // 200)
    seq = int(open(state).read()) if os.path.exists(state) else 0
    seq0 = seq
    while time.monotonic() - t0 < secs:
        buf = b''.join(line_for(seq + k) for k in range(batch))
        os.write(fd, buf)
        if cur['first'] is None:
            cur['first'] = seq
        seq += batch
        cur['last'] = seq - 1
        cur['bytes'] += len(buf)
        if time.monotonic() >= next_rot:
            next_rot += rot
            names = sorted((int(n.rsplit('.', 1)[1]) for n in os.listdir(logs)
                            if re.fullmatch(re.escape(name) + r'\.\d+', n)), reverse=True)
            for k in names:
                os.rename('%s.%d' % (path, k), '%s.%d' % (path, k + 1))
            os.rename(path, path + '.1')
            close_file(time.time())
            gen += 1
            new_file()
        ahead = (seq - seq0) / rate - (time.monotonic() - t0)
        if ahead > 0:
            time.sleep(ahead)
    close_file(None)
    with open(state, 'w') as f:
        f.write('%d\n' % seq)
    return 0


def read_out(out):
    seen, dups, corrupt, ids = {}, 0, 0, {}
    with open(out, 'rb') as f:
        for ln in f:
            m = re.match(rb'(\d+) ', ln)
            if m:
                ln = ln[m.end():]
            m = LINE_RE.match(ln)
            if not m or zlib.crc32(b's=%s n=%s p=%s' % (m.group(1), m.group(2), m.group(4))) \
                    != int(m.group(3), 16):
                corrupt += 1
                continue
            n = int(m.group(2))
            if n in seen:
                dups += 1
            seen[n] = len(ln)
    return seen, dups, corrupt


def stop_window(ln):
    """(T, RESTART_TIME) of a line of the stops file (see the module's text)."""
    x = [float(v) for v in ln.split()]
    return (min(x[0], x[2]) if len(x) > 2 and x[2] > 0 else x[0]), x[1]


def moved(argv):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from file_checkpoint import check_ckpt

    ckpt, d, suffix = argv
    try:
        with open(ckpt, 'rb') as f:
            files = check_ckpt(f.read())
    except (OSError, ValueError):
        files = []
    held = {(f[0], f[1]) for f in files}
    n = 0
    for name in os.listdir(d):
        st = os.stat(os.path.join(d, name))
        n += (st.st_dev, st.st_ino) in held and not name.endswith(suffix)
    print(n)
    return 0


def check(argv):
    out, d = argv[0], argv[1]
    opts = argv[2:]
    outside = '--outside-glob' in opts
    stops = []
    max_dup = max_torn = None
    for i, o in enumerate(opts):
        if o == '--stops':
            with open(opts[i + 1]) as f:
                stops = [stop_window(ln) for ln in f if ln.strip()]
        if o == '--max-dup':
            max_dup = int(opts[i + 1])
        if o == '--max-torn':
            max_torn = int(opts[i + 1])
    files = [json.loads(ln) for ln in open(os.path.join(d, 'files.jsonl'))]
    seen, dups, corrupt = read_out(out)
    lost = lost_b = unreach = unreach_b = unreach_got = 0
    written = written_b = 0
    for f in files:
        if f['first'] is None:
            continue
        hidden = outside and f['rotated'] is not None and any(
            f['created'] > k - 0.5 and f['rotated'] < r for k, r in stops)
        for n in range(f['first'], f['last'] + 1):
            b = len(line_for(n))
            written += 1
            written_b += b
            if hidden:
                unreach += 1
                unreach_b += b
                unreach_got += n in seen
            elif n not in seen:
                lost += 1
                lost_b += b
    got_b = sum(seen.values())
    print('written=%d written_bytes=%d delivered=%d delivered_bytes=%d lost=%d lost_bytes=%d '
          'duplicates=%d corrupt=%d files=%d unreachable_files=%d unreachable_lines=%d '
          'unreachable_bytes=%d unreachable_delivered=%d' %
          (written, written_b, len(seen), got_b, lost, lost_b, dups, corrupt, len(files),
           sum(1 for f in files if outside and f['rotated'] is not None and any(
               f['created'] > k - 0.5 and f['rotated'] < r for k, r in stops)),
           unreach, unreach_b, unreach_got))
    ok = lost == 0 and corrupt <= (max_torn or 0)
    if max_dup is not None and dups > max_dup:
        ok = False
    return 0 if ok else 1


def offsets(argv):
    out, path = argv[0], argv[1]
    want = {}
    with open(path, 'rb') as f:
        f.seek(max(0, os.path.getsize(path) - 64 * 1024 * 1024))
        pos = f.tell()
        for ln in f:
            m = LINE_RE.match(ln)
            if m:
                want[int(m.group(2))] = pos
            pos += len(ln)
    bad = n = hi = 0
    with open(out, 'rb') as f:
        for ln in f:
            m = re.match(rb'(\d+) (.*\n)$', ln)
            mm = m and LINE_RE.match(m.group(2))
            if not mm:
                bad += 1
                continue
            off = int(m.group(1)) & ((1 << 48) - 1)
            n += 1
            hi = max(hi, off)
            if want.get(int(mm.group(2))) != off:
                bad += 1
    print('ids=%d wrong=%d highest_offset=%d' % (n, bad, hi))
    return 0 if n and not bad else 1


if __name__ == '__main__':
    sys.exit({'write': write, 'check': check, 'offsets': offsets,
              'moved': moved}[sys.argv[1]](sys.argv[2:]))

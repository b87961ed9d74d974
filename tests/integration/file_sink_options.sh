#!/usr/bin/env bash
# The `file` sink's rotate_bytes and fsync options through a real run: 50,000 generated
# lines (Python) go through a file source into a raw file sink that rotates every 256 KiB,
# with each fsync mode; the rotated files PATH.1, PATH.2, ... and PATH, concatenated in
# order, must be the input byte for byte (wc and cmp), every rotated file at least
# rotate_bytes, and the summary must count the rotations and, except for none, fsyncs. A sink
# whose writes fail (/dev/full) makes the run exit 1.
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
tap_plan 14
tap_tmpdir
cd "$TMP" || exit 1
python3 - <<'PY'
import random
r = random.Random(5)
with open("in.log", "w") as f:
    for i in range(50000):
        f.write("line %06d %s\n" % (i, "x" * r.randrange(0, 60)))
PY
for mode in none end interval every_batch; do
	rm -rf out && mkdir out
	cat >p.yaml <<YAML
sources:
  in: { type: file, path: in.log }
sinks:
  out: { type: file, inputs: [in], path: out/o.log, format: raw, rotate_bytes: 256Ki,
         fsync: $mode, fsync_interval: 10ms }
YAML
	timeout 60 "$SLUICE" run p.yaml >stdout 2>stderr
	tap_is "$?" 0 "[fsync: $mode] run exits 0"
	n=$(find out -name 'o.log.*' | wc -l)
	{ for ((i = 1; i <= n; i++)); do cat "out/o.log.$i"; done; cat out/o.log; } >joined
	small=$(for ((i = 1; i <= n; i++)); do [ "$(wc -c <"out/o.log.$i")" -lt 262144 ] && echo "o.log.$i"; done)
	cmp -s joined in.log && [ "$n" -ge 5 ] && [ -z "$small" ]
	tap_ok $? "[fsync: $mode] $n rotated files + o.log = the input, each >= 256 KiB"
	summary=$(grep -A1 '^out ' stderr | tail -1)
	fs=$(echo "$summary" | grep -o 'fsyncs=[0-9]*' | cut -d= -f2)
	rot=$(echo "$summary" | grep -o 'rotations=[0-9]*' | cut -d= -f2)
	if [ "$mode" = none ]; then want_fs='[ "$fs" -eq 0 ]'; else want_fs='[ "$fs" -ge 1 ]'; fi
	eval "$want_fs" && [ "$rot" = "$n" ]
	tap_ok $? "[fsync: $mode] summary counts rotations=$rot and fsyncs=$fs"
done

# A sink that cannot write what it was given (every write to /dev/full fails) fails the
# run: it exited 0 with the output lost.
cat >full.yaml <<'YAML'
sources:
  in: { type: file, path: in.log }
sinks:
  out: { type: file, inputs: [in], path: /dev/full, format: raw }
YAML
timeout 60 "$SLUICE" run full.yaml >full.out 2>full.err
tap_is "$?" 1 "a sink writing to /dev/full: the run exits 1"
grep -q 'write failed: No space left on device' full.err &&
	grep -q 'a sink could not write all it was given' full.err
tap_ok $? "the error and the reason for the exit status are logged"
tap_done

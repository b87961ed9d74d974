#!/usr/bin/env bash
# `sluice swap` and `sluice reload` under load (docs/control.md, "Reload and swap").
# A followed file gets numbered lines "__ NNNNNNNN" in batches while the pipeline
#   lines (file, follow) -> tag (version_tag plugin) -> out (file sink, raw)
# runs; version_tag writes its version ("v1", "v2") over the first two bytes of each line.
#   - swap v1 -> v2 -> v1 while lines flow; a swap to a version with other parameters, of
#     a plugin that does not export the stage, of a non-stage node, of a missing file and
#     of a symlink to a good plugin (named relative) are refused with their reason and
#     change nothing; a refused swap that loaded the
#     file running since the start (for `pass`, a built-in sample stage) leaves no trace:
#     the next swap gets the code of the file it names (v2 -> v2, reported as such);
#   - 50 reloads alternating two valid files (A loads version_tag_v1.so, B _v2.so) and 24
#     invalid ones (syntax error, unknown stage, failing init, duplicate names, a new
#     node, a changed isolation): each invalid one is refused with its reason, each valid one applied;
#   - then: every line written arrives exactly once, in order (lost 0, duplicates 0,
#     checked by Python against the lines written); every line carries v1 or v2 and the
#     tag changes at most once per applied change (a clean switch between bursts, never
#     back and forth); the log records each command with the peer's uid;
#   - no fd or memory growth: the open fds after the reloads are no more than after the
#     first ten, and RSS grew less than 16 MB;
#   - a stage with isolation: process reloaded three times leaves one zygote (the start-up
#     conf's lived until exit), and every line still arrives once, in order.
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
tap_plan 17
tap_tmpdir
cd "$TMP" || exit 1
PID=
FEED=
cleanup() {
	[ -n "$FEED" ] && kill "$FEED" 2>/dev/null
	[ -n "$PID" ] && { pkill -9 -P "$PID"; kill -9 "$PID"; } 2>/dev/null
	[ -z "${SLUICE_KEEP_TMP:-}" ] && rm -rf "$TMP"
}
trap cleanup EXIT

for v in v1 v2 v3_params; do
	cp "$SLUICE_BUILD/plugins/testing/version_tag_$v.so" . && chmod 0644 "version_tag_$v.so"
done
cp "$SLUICE_BUILD/plugins/testing/crash_on.so" . && chmod 0644 crash_on.so
pipeline() { # $1: plugin version, $2: note
	cat <<EOF2
plugins: [./version_tag_$1.so]
sources:
  lines: { type: file, paths: [in.log], follow: true }
stages:
  tag: { use: version_tag, inputs: [lines], note: "$2" }
  pass: { use: sample, inputs: [tag], rate: 1 }
sinks:
  out: { type: file, inputs: [pass], path: out.log, format: raw }
EOF2
}
pipeline v1 a >A.yaml
pipeline v2 b >B.yaml
printf 'plugins: [./version_tag_v1.so]\nsources:\n  lines: { type: file, paths: [in.log]\n' >bad_syntax.yaml
pipeline v1 a | sed 's/use: version_tag/use: version_tagg/' >bad_unknown.yaml
pipeline v1 fail >bad_init.yaml
pipeline v1 a | sed 's/^  out: /  tag: /' >bad_dup.yaml
pipeline v1 a | sed 's/^sinks:/  tag2: { use: version_tag, inputs: [tag] }\nsinks:/' >bad_new_node.yaml
pipeline v1 a | sed 's/note: "a" }/note: "a", isolation: process }/' >bad_isolation.yaml

: >in.log
# Under ASan, freed memory waits in a quarantine (256 MB) and RSS would grow with every
# free: no quarantine here, so RSS measures what is kept (no effect without ASan).
ASAN_OPTIONS=${ASAN_OPTIONS:-}:quarantine_size_mb=0 "$SLUICE" run A.yaml --socket s.sock >run.out 2>run.err &
PID=$!
# 400 lines every 20 ms (20,000 lines/s) until told to stop, numbered from 1.
python3 - <<'PY' &
import os, time
n = 0
with open("in.log", "a") as f:
    while not os.path.exists("stop"):
        f.write("".join("__ %08d\n" % (n + i + 1) for i in range(400)))
        f.flush()
        n += 400
        time.sleep(0.02)
open("written", "w").write(str(n))
PY
FEED=$!
for _ in $(seq 1 200); do [ -S s.sock ] && break; sleep 0.05; done
sleep 0.5

timeout 10 "$SLUICE" swap tag version_tag_v2.so --socket s.sock >sw1.out 2>sw1.err
tap_is "$?.$(grep -c -- '-> version_tag v2 ' sw1.out)" 0.1 "swap v1 -> v2 applied ($(cat sw1.out sw1.err))"
sleep 0.3
fails=0
why=""
check_refused() { # $1: expected text in the error; the rest: the command
	local want=$1
	shift
	if timeout 10 "$@" --socket s.sock >r.out 2>r.err || ! grep -q -- "$want" r.err; then
		fails=$((fails + 1))
		why="$why [$* -> $(cat r.out r.err)]"
	fi
}
check_refused "parameters differ" "$SLUICE" swap tag version_tag_v3_params.so
check_refused "does not export stage 'version_tag'" "$SLUICE" swap tag crash_on.so
check_refused "'lines' is not a stage" "$SLUICE" swap lines version_tag_v1.so
check_refused "No such file" "$SLUICE" swap tag nowhere.so
check_refused "no node named 'nope'" "$SLUICE" swap nope version_tag_v1.so
# The client once resolved the path (realpath) before sending it, so a symlink passed the
# server's no-symlink rule.
ln -s version_tag_v2.so link.so
check_refused "is a symlink" "$SLUICE" swap tag link.so
# Loads version_tag_v1.so, which the start-up registry holds, then refuses: the loader
# once kept this load's /proc/self/fd name on the start-up object, and the next plugin
# opened under that number was handed v1's code.
check_refused "does not export stage 'sample'" "$SLUICE" swap pass version_tag_v1.so
tap_is "$fails" 0 "7 bad swaps refused with their reason$why"
timeout 10 "$SLUICE" swap tag version_tag_v2.so --socket s.sock >sw3.out 2>sw3.err
tap_is "$?.$(grep -c -- '-> version_tag v2 ' sw3.out)" 0.1 \
	"after them, swap v2 -> v2 gets v2's code ($(cat sw3.out sw3.err))"
timeout 10 "$SLUICE" swap tag version_tag_v1.so --socket s.sock >sw2.out 2>sw2.err
tap_is "$?.$(grep -c -- '-> version_tag v1 ' sw2.out)" 0.1 "swap v2 -> v1 applied ($(cat sw2.out sw2.err))"
sleep 0.3

# Steady open fds: the least of 5 looks 50 ms apart (a client's connection or a glob scan
# holds one for a moment).
fd_count() {
	local n m=1000000
	for _ in 1 2 3 4 5; do
		n=$(ls "/proc/$PID/fd" | wc -l)
		[ "$n" -lt "$m" ] && m=$n
		sleep 0.05
	done
	echo "$m"
}
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$PID/status"; }
applied=4 # three swaps and the start
ok_fail=0
fd10=0
rss10=0
invalid=(bad_syntax bad_unknown bad_init bad_dup bad_new_node bad_isolation)
want=("bad_syntax.yaml:" "unknown stage" "asked to fail" "duplicate" "cannot add or remove nodes"
	"isolation, scale or ordered_by changed")
for i in $(seq 1 50); do
	f=$([ $((i % 2)) -eq 1 ] && echo B.yaml || echo A.yaml)
	if timeout 10 "$SLUICE" reload "$f" --socket s.sock >rl.out 2>rl.err \
		&& grep -q "1 stage(s) changed" rl.out; then
		applied=$((applied + 1))
	else
		ok_fail=$((ok_fail + 1))
		echo "reload $i $f: $(cat rl.out rl.err)" >>reload_failures
	fi
	if [ "$i" -eq 10 ]; then
		fd10=$(fd_count)
		rss10=$(rss_kb)
	fi
done
tap_is "$ok_fail" 0 "50 valid reloads alternating A and B applied $(head -3 reload_failures 2>/dev/null)"
# 24 invalid reloads, each kind four times, interleaved with valid ones.
bad_ok=0
for r in 1 2 3 4; do
	for k in 0 1 2 3 4 5; do
		if timeout 10 "$SLUICE" reload "${invalid[$k]}.yaml" --socket s.sock >rl.out 2>rl.err \
			|| ! grep -q -- "${want[$k]}" rl.err; then
			bad_ok=$((bad_ok + 1))
			echo "${invalid[$k]}: $(cat rl.out rl.err | tr "\n" " ")" >>invalid_failures
		fi
	done
	f=$([ $((r % 2)) -eq 1 ] && echo B.yaml || echo A.yaml)
	timeout 10 "$SLUICE" reload "$f" --socket s.sock >rl.out 2>rl.err && applied=$((applied + 1))
done
tap_is "$bad_ok" 0 "24 invalid reloads refused with their reason $(head -5 invalid_failures 2>/dev/null)"
timeout 10 "$SLUICE" reload A.yaml --socket s.sock >rl.out 2>rl.err
grep -q "no stage changed" rl.out
tap_ok $? "reloading the running file again changes nothing ($(cat rl.out rl.err))"
fd_end=$(fd_count)
rss_end=$(rss_kb)
tap_ok $((fd_end <= fd10 ? 0 : 1)) "no fd growth over 68 more reloads ($fd10 -> $fd_end)"
tap_ok $(( rss_end - rss10 < 16384 ? 0 : 1 )) "RSS grew less than 16 MB ($rss10 kB -> $rss_end kB)"

touch stop
wait "$FEED"
FEED=
want_n=$(cat written)
for _ in $(seq 1 100); do
	[ "$(wc -l <out.log)" -ge "$want_n" ] && break
	sleep 0.1
done
kill -TERM "$PID"
wait "$PID"
tap_is "$?" 0 "the pipeline drains and exits 0"
PID=

python3 - "$want_n" out.log "$applied" >check.out <<'PY'
import sys
n, path, applied = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
lines = open(path).read().split("\n")[:-1]
seqs = [int(l[3:]) for l in lines]
print("count", len(lines), n)
print("order", "yes" if seqs == list(range(1, n + 1)) else "no")
tags = [l[:2] for l in lines]
print("tags", "yes" if set(tags) <= {"v1", "v2"} else "no", sorted(set(tags)))
changes = sum(1 for a, b in zip(tags, tags[1:]) if a != b)
print("changes", changes, applied)
print("v2", tags.count("v2") > 0)
PY
tap_is "$(awk '/^count/ { print ($2 == $3) }' check.out)" 1 "every line written arrives ($(grep ^count check.out))"
tap_is "$(grep -c '^order yes' check.out)" 1 "exactly once and in order (lost 0, duplicates 0)"
tap_is "$(grep -c '^tags yes' check.out)" 1 "every line was handled by v1 or v2 ($(grep ^tags check.out))"
tap_ok "$(awk '/^changes/ { print ($2 >= 3 && $2 <= $3) ? 0 : 1 }' check.out)" \
	"the tag changes at most once per applied change, at least 3 times ($(grep ^changes check.out))"
# Logged: 3 + 5 swaps that reached the server (a missing file and an unknown node are
# refused before), 50 + 24 + 4 + 1 reloads.
tap_is "$(grep -c 'command \(swap\|reload\) from uid=[0-9]' run.err)" 87 \
	"each swap and reload that reached the server is logged with the peer's uid"

# A stage with isolation: process, reloaded three times while lines flow: after each
# reload exactly one zygote is left (the start-up one lived on until exit), and every line
# still arrives once (counted by Python from what was written).
mkdir iso && cd iso || exit 1
: >in.log
cat >p.yaml <<'YAML'
sources:
  in: { type: file, path: in.log, follow: true }
stages:
  parse: { use: json_parse, inputs: [in], isolation: process }
sinks:
  out: { type: file, inputs: [parse], path: out.log, format: raw }
control: { socket: s.sock }
YAML
"$SLUICE" run p.yaml -- --no-huge -m 256 >run.out 2>run.err &
PID=$!
for _ in $(seq 500); do [ -S s.sock ] && break; sleep 0.02; done
zygotes=
for round in 1 2 3 4; do
	python3 -c '
import sys
r = int(sys.argv[1])
with open("in.log", "a") as f:
    for i in range(1000):
        f.write("{\"round\": %d, \"i\": %d}\n" % (r, i))' "$round"
	for _ in $(seq 250); do [ "$(wc -l <out.log 2>/dev/null || echo 0)" -ge $((round * 1000)) ] && break; sleep 0.02; done
	[ "$round" = 4 ] && break
	timeout 10 "$SLUICE" reload p.yaml --socket s.sock >rl.out 2>rl.err || echo "reload: $(cat rl.out rl.err)" >&2
	sleep 0.3
	zygotes="$zygotes$(pgrep -c -P "$PID" -x sluice-zygote) "
done
kill -TERM "$PID"
wait "$PID"
PID=
tap_is "$zygotes" "1 1 1 " "isolation: process, reloaded 3 times: one zygote left after each reload"
python3 - <<'PY' >iso.check
import json
got = [json.loads(l) for l in open("out.log")]
want = [{"round": r, "i": i} for r in (1, 2, 3, 4) for i in range(1000)]
print("ok" if got == want else "got %d lines, first differences %s" % (len(got), [g for g, w in zip(got, want) if g != w][:2]))
PY
tap_is "$(cat iso.check)" ok "isolation: process across the reloads: every line once, in order"
cd "$TMP" || exit 1

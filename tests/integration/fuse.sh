#!/usr/bin/env bash
# Chain fusion (docs/architecture.md, Fusion; dataplane/graph/fuse.h): on one lcore a
# producer hands its bursts straight to the next stage or sink, and nothing a user can see
# changes but the speed:
#   - the issue-4 packet pipeline (net_pcap) on one lcore: out.pcap and the syslog lines
#     are exactly what Python reads from the capture; every edge takes events by direct
#     call (`fused_in`), the output with two consumers (syslog -> back, lines) too, each
#     consumer in turn; every node conserves; with `fuse: false` the same outputs and no
#     fused event anywhere;
#   - delivery through fused calls: a checkpointed file source -> json_parse -> filter ->
#     file sink on one lcore writes exactly the lines awk selects, commits the checkpoint
#     at the end of the file, and a second run reads nothing again;
#   - on two lcores (tasks dealt round-robin) no edge joins two tasks of one lcore, so
#     nothing is fused, and the output is the same;
#   - overflow: nginx_parse -> filter -> route into file sinks behind 64-slot rings, one of
#     them drop_newest: fused and with fuse: false, the block-policy outputs are the same
#     bytes, the lossy sink wrote exactly the events it counts, and every node conserves;
#   - lanes (`--replicas 2` on two lcores): a stage in as many lanes as its producer is
#     fused lane by lane (producer replica k -> consumer replica k on lcore k), and the
#     output is still mawk's;
#   - fan-out to windowed stages: nginx_parse -> two aggregates (window: all), on one
#     lcore and in two lanes, both fused, give the counts by status and by method that awk
#     computes; with a 5 ms processing-time window, several windows close and their counts
#     add up to awk's (an event that comes while a window closes waits in the ring);
#   - burst facts along fused edges: a source read by pkt_parse and by a pkt_filter of its
#     own does not vouch to pkt_parse for unshared frames, so pkt_parse copies before it
#     writes and the filter finds every frame unparsed;
#   - `fuse:` takes only a boolean (file:line:column).
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
tap_plan 32
tap_tmpdir
cd "$TMP" || exit 1
trap 'pkill -9 -P $$ 2>/dev/null; [ -z "${SLUICE_KEEP_TMP:-}" ] && rm -rf "$TMP"' EXIT

PK=$SLUICE_SOURCE/tests/integration/packets.py
python3 "$PK" write in.pcap
python3 "$PK" expect in.pcap .

# fused_in per node, as "name=N ..." in file order.
fused() {
	python3 -c '
import json, sys
print(" ".join("%s=%d" % (n["name"], n["fused_in"]) for n in json.load(open(sys.argv[1]))["nodes"]))' "$1"
}

packets() { # port index, extra top-level line
	cat <<YAML
sources:
  wire: { type: dpdk, device: "net_pcap$1,rx_pcap=in.pcap,tx_pcap=out$1.pcap" }
stages:
  parse:  { use: pkt_parse, inputs: [wire] }
  syslog: { use: pkt_filter, inputs: [parse], where: "udp and dst_port == 514" }
  lines:  { use: udp_payload, inputs: [syslog] }
sinks:
  back:   { type: dpdk, device: net_pcap$1, inputs: [syslog] }
  text:   { type: file, inputs: [lines], path: syslog$1.log, format: raw }
$2
YAML
}

packets 0 "" >fused.yaml
timeout -k 5 60 "$SLUICE" run fused.yaml -v --stats-json f.json -- -l 0 >/dev/null 2>f.err
tap_is "$?" 0 "the issue-4 pipeline runs fused on one lcore"
python3 "$PK" frames out0.pcap >got0.frames 2>/dev/null
tap_cmp got0.frames expect.frames "fused: out.pcap = the UDP/514 frames of in.pcap, in order"
tap_cmp syslog0.log expect.log "fused: the syslog lines = their payloads as Python reads them"
got=$(fused f.json)
python3 - f.json >f.check <<'PY'
import json, sys
st = {n["name"]: n for n in json.load(open(sys.argv[1]))["nodes"]}
# Direct calls on every edge: syslog's output, read by back and lines, calls each in turn.
ok = (all(st[k]["fused_in"] > 0 for k in ("parse", "syslog", "back", "lines", "text")) and
      all(n["fused_in"] <= n["in"] for n in st.values()))
print("yes" if ok else "no")
PY
tap_is "$(cat f.check)" yes "fused edges take events by direct call, both consumers of syslog too ($got)"
grep -q 'msg="fused: output default -> parse on lcore 0"' f.err &&
	grep -q 'comp=syslog msg="fused: output default -> back on lcore 0"' f.err &&
	grep -q 'comp=syslog msg="fused: output default -> lines on lcore 0"' f.err
tap_ok $? "sluice run -v names each fused edge, both of the two-consumer output"
python3 "$TESTLIB/check_stats.py" conserve f.json >conserve.out
tap_ok $? "fused: conservation at every node, nothing queued or pending at the end"
[ -s conserve.out ] && tap_diag "$(cat conserve.out)"

packets 1 "fuse: false" >plain.yaml
timeout -k 5 60 "$SLUICE" run plain.yaml --stats-json p.json -- -l 0 >/dev/null 2>p.err
tap_is "$?" 0 "the same pipeline with fuse: false"
python3 "$PK" frames out1.pcap >got1.frames 2>/dev/null
tap_cmp got1.frames expect.frames "fuse: false: the same frames"
tap_cmp syslog1.log expect.log "fuse: false: the same lines"
got=$(fused p.json)
tap_is "$(echo "$got" | tr ' ' '\n' | grep -vc '=0$')" 0 "fuse: false: no event is handed over by a call ($got)"

# ---- burst facts (stage.h): an output with two consumers vouches for no unshared event ----
# The frames are shared between parse and raw, a pkt_filter straight on the source that
# is called after parse: had parse been told they were unshared, it would have written
# its results into raw's frames, and raw would find parsed frames among its input.
cat >facts.yaml <<'YAML'
sources:
  wire: { type: dpdk, device: "net_pcap2,rx_pcap=in.pcap" }
stages:
  parse: { use: pkt_parse, inputs: [wire] }
  raw:   { use: pkt_filter, inputs: [wire], where: "udp or not udp" }
sinks:
  a: { type: "null", inputs: [parse] }
  e: { type: "null", inputs: [parse.errors] }
  b: { type: "null", inputs: [raw] }
YAML
timeout -k 5 60 "$SLUICE" run facts.yaml --stats-json facts.json -- -l 0 >/dev/null 2>facts.err
tap_is "$?" 0 "a source with two fused consumers, pkt_parse first"
python3 - facts.json >facts.check <<'PY'
import json, sys
st = {n["name"]: n for n in json.load(open(sys.argv[1]))["nodes"]}
c = st["raw"]["counters"]
ok = (st["parse"]["fused_in"] > 0 and st["raw"]["fused_in"] > 0 and st["raw"]["in"] > 0 and
      c["unparsed"] == st["raw"]["in"] == st["parse"]["in"] and c["matched"] == 0)
print("yes" if ok else "no: %s %s" % (c, st["raw"]["in"]))
PY
tap_is "$(cat facts.check)" yes "shared frames: pkt_parse copies before it writes, the other consumer sees them unparsed"

# ---- delivery (checkpoint) through fused calls ----
python3 - <<'PY'
with open("in.log", "w") as f:
    for i in range(1, 30001):
        f.write('{"n": %d, "k": "%s"}\n' % (i, "keep" if i % 7 == 0 else "skip"))
PY
awk '/"keep"/' in.log >expect_keep.log
cat >ck.yaml <<'YAML'
sources:
  app: { type: file, paths: [in.log], start_at: beginning, checkpoint: app.ckpt,
         checkpoint_interval: 20ms }
stages:
  p: { use: json_parse, inputs: [app] }
  f: { use: filter, inputs: [p], where: 'k == "keep"' }
sinks:
  out: { type: file, inputs: [f], path: keep.log, format: raw, append: true }
  bad: { type: "null", inputs: [p.errors] }
YAML
timeout -k 5 60 "$SLUICE" run ck.yaml --stats-json c.json -- -l 0 >/dev/null 2>c.err
rc=$?
tap_is "$rc" 0 "a checkpointed file source through fused stages"
tap_cmp keep.log expect_keep.log "every kept line written once, in order ($(wc -l <expect_keep.log) lines)"
size=$(stat -c %s in.log)
committed=$(awk '$1 == "file" {print $7}' app.ckpt)
tap_is "$committed:$(fused c.json | grep -c 'p=[1-9]')" "$size:1" \
	"the checkpoint commits the end of the file ($size bytes) with fused calls in the path"
timeout -k 5 60 "$SLUICE" run ck.yaml -- -l 0 >/dev/null 2>c2.err
tap_is "$(wc -l <keep.log)" "$(wc -l <expect_keep.log)" "a second run reads nothing again"

# ---- two lcores: tasks alternate, nothing shares an lcore with its producer ----
rm -f app.ckpt keep.log
timeout -k 5 60 "$SLUICE" run ck.yaml --stats-json two.json -- -l 0-1 >/dev/null 2>two.err
tap_cmp keep.log expect_keep.log "two lcores: the same lines"
got=$(fused two.json)
tap_is "$(echo "$got" | tr ' ' '\n' | grep -vc '=0$')" 0 "two lcores: nothing fused across lcores ($got)"

# ---- overflow: rings as overflow behind sinks that fall behind ----
python3 "$TESTLIB/gen_nginx_log.py" -n 200000 -o access.log --seed 3 --bad-ratio 0.01
for mode in fused plain; do
	mkdir -p "$mode"
	cat >"$mode/p.yaml" <<YAML
sources:
  access: { type: file, path: access.log }
stages:
  parse:  { use: nginx_parse, inputs: [access] }
  errors: { use: filter, inputs: [parse], where: "status >= 500" }
  sev:    { use: route, inputs: [errors], routes: { big: "bytes > 5000" } }
sinks:
  big:  { type: file, inputs: [sev.big], path: $mode/big.log, format: raw, ring_size: 64 }
  rest: { type: file, inputs: [sev], path: $mode/rest.jsonl, format: jsonl, ring_size: 64,
          when_full: drop_newest }
  bad:  { type: file, inputs: [parse.errors], path: $mode/bad.log, format: raw }
$([ "$mode" = plain ] && echo "fuse: false")
YAML
	timeout -k 5 60 "$SLUICE" run "$mode/p.yaml" -q --stats-json "$mode/s.json" -- -l 0 \
		>/dev/null 2>"$mode/err" || tap_diag "$mode: $(tail -3 "$mode/err")"
done
tap_cmp fused/big.log plain/big.log "overflow: fused, the block-policy sink wrote the same bytes as unfused"
tap_cmp fused/bad.log plain/bad.log "overflow: the same malformed lines"
python3 - fused/s.json fused/rest.jsonl >ov.check <<'PY'
import json, sys
st = {n["name"]: n for n in json.load(open(sys.argv[1]))["nodes"]}
n_lines = sum(1 for _ in open(sys.argv[2]))
print("yes" if st["rest"]["out"] == n_lines > 0 and st["parse"]["fused_in"] > 0 else "no",
      "rest out %d, lines %d, ring_full %d, fused_in %s" % (
          st["rest"]["out"], n_lines, st["rest"]["dropped"].get("ring_full", 0),
          {k: v["fused_in"] for k, v in st.items()}))
PY
tap_is "$(cut -d' ' -f1 ov.check)" yes "overflow: the drop_newest sink wrote what it counts ($(cut -d' ' -f2- ov.check))"
python3 "$TESTLIB/check_stats.py" conserve fused/s.json >ov.conserve
tap_ok $? "overflow: fused, conservation at every node (ring_full charged to the lossy sink)"
[ -s ov.conserve ] && tap_diag "$(cat ov.conserve)"
python3 "$TESTLIB/check_stats.py" conserve plain/s.json >ov.conserve
tap_ok $? "overflow: unfused, the same"

# ---- lanes: a stage in as many lanes as its producer fuses per lane ----
. "$TESTLIB/nginx_ref.sh"
nginx_ref_5xx access.log | LC_ALL=C sort >expect_lanes.log
cat >lanes.yaml <<'YAML'
sources:
  access: { type: file, path: access.log }
stages:
  parse:  { use: nginx_parse, inputs: [access] }
  errors: { use: filter, inputs: [parse], where: "status >= 500" }
sinks:
  out: { type: file, inputs: [errors], path: lanes.log, format: raw }
  bad: { type: "null", inputs: [parse.errors] }
YAML
timeout -k 5 60 "$SLUICE" run lanes.yaml -v --replicas 2 --stats-json lanes.json -- -l 0-1 \
	>/dev/null 2>lanes.err
LC_ALL=C sort lanes.log >got_lanes.log
tap_cmp got_lanes.log expect_lanes.log \
	"lanes: the 5xx lines mawk selects, as a multiset ($(wc -l <expect_lanes.log) lines)"
tap_is "$(grep -c 'fused: lane 1 -> parse\|fused: lane 1 -> errors' lanes.err):$(fused lanes.json | grep -o 'parse=[1-9][0-9]*' | wc -l)" \
	"2:1" "lanes: lane 1 fuses to parse and errors, parse takes events by call ($(fused lanes.json))"

# ---- fan-out to windowed stages: both aggregates fused, the same answers ----
nginx_ref_valid access.log >valid.log
awk '{ s[$9]++ } END { for (k in s) print k, s[k] }' valid.log | sort >expect_fan.status
awk '{ m[substr($6, 2)]++ } END { for (k in m) print k, m[k] }' valid.log | sort >expect_fan.method
fan_yaml() { # $1: output prefix, $2: window
	cat <<YAML
sources:
  access: { type: file, path: access.log }
stages:
  parse: { use: nginx_parse, inputs: [access] }
  by_status:
    use: aggregate
    inputs: [parse]
    group_by: [status]
    window: $2
    aggregations: ["{ name: n, fn: count }"]
  by_method:
    use: aggregate
    inputs: [parse]
    group_by: [method]
    window: $2
    aggregations: ["{ name: n, fn: count }"]
sinks:
  s: { type: file, inputs: [by_status], path: $1.status.jsonl, format: jsonl }
  m: { type: file, inputs: [by_method], path: $1.method.jsonl, format: jsonl }
  bad: { type: "null", inputs: [parse.errors] }
YAML
}
# Sum "n" by key over every window's records: "KEY N" lines, sorted.
fan_sum() { # $1: jsonl, $2: key field
	python3 -c 'import json, sys
t = {}
for l in open(sys.argv[1]):
    r = json.loads(l)
    t[r[sys.argv[2]]] = t.get(r[sys.argv[2]], 0) + r["n"]
for k in t: print(k, t[k])' "$1" "$2" | sort
}
# Run the pipeline as $1 (its files' prefix) with window $2 and sluice's arguments after:
# true when the windows' counts by status and by method add up to awk's.
fan_run() {
	local name=$1 window=$2
	shift 2
	fan_yaml "$name" "$window" >"$name.yaml"
	timeout -k 5 60 "$SLUICE" run "$name.yaml" --stats-json "$name.json" "$@" >/dev/null \
		2>"$name.err"
	fan_sum "$name.status.jsonl" status >"$name.got.status"
	fan_sum "$name.method.jsonl" method >"$name.got.method"
	cmp -s "$name.got.status" expect_fan.status && cmp -s "$name.got.method" expect_fan.method
}
fan_run fan1 all -v -- -l 0
tap_ok $? "fan-out, one lcore: counts by status and by method are awk's ($(wc -l <expect_fan.status) statuses, $(wc -l <expect_fan.method) methods)"
tap_is "$(fused fan1.json | grep -o 'by_status=[1-9][0-9]*\|by_method=[1-9][0-9]*' | wc -l)" 2 \
	"fan-out, one lcore: both aggregates take events by call ($(fused fan1.json))"
fan_run fan2 all -v --replicas 2 -- -l 0-1
tap_ok $? "fan-out, two lanes: the same counts"
tap_is "$(grep -c 'fused: lane 1 -> by_status\|fused: lane 1 -> by_method' fan2.err)" 2 \
	"fan-out, two lanes: lane 1 fuses to both aggregates"
# Windows of 5 ms close while the file is read: whatever comes during a close waits.
fan_run fan3 5ms -q -- -l 0
rc=$?
# More status records than statuses: more than one window closed during the run.
[ "$(wc -l <fan3.status.jsonl)" -gt "$(wc -l <expect_fan.status)" ] || rc=1
tap_ok "$rc" "fan-out, 5 ms windows: several windows closed and their counts add up to awk's ($(wc -l <fan3.status.jsonl) status records)"
python3 "$TESTLIB/check_stats.py" conserve fan3.json >fan3.conserve
tap_ok $? "fan-out, 5 ms windows: conservation at every node"
[ -s fan3.conserve ] && tap_diag "$(cat fan3.conserve)"

packets 2 "fuse: maybe" >bad.yaml
"$SLUICE" validate bad.yaml >bad.out 2>&1
tap_ok "$(grep -qE '^bad.yaml:10:7: fuse: expected true or false' bad.out && echo 0 || echo 1)" \
	"fuse: takes only true or false ($(head -1 bad.out))"

#!/usr/bin/env bash
# DPDK telemetry (docs/control.md): with `-- --telemetry --file-prefix P` the EAL serves
# its telemetry socket (DPDK's dpdk_telemetry.v2 protocol, read here the way
# dpdk-telemetry.py does: a SOCK_SEQPACKET unix socket, one JSON reply per command), and
# Sluice's commands sit next to DPDK's own: / lists /sluice/info, /sluice/nodes and
# /sluice/stats beside /eal/params; nodes lists the pipeline's nodes; stats,NODE gives a
# node's counters, with the source's generated count growing while a gen source runs;
# an unknown node is an error reply, not a crash; /sluice/edges lists every edge (from the
# pipeline file) with its ring's depth within its capacity, each under its own key when
# node names differ only by '-' and '_' (a-b, a_b), which telemetry keys cannot tell apart.
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
tap_plan 8
tap_tmpdir
cd "$TMP" || exit 1
PREFIX=sl-tel-$$
if [ "$(id -u)" -eq 0 ]; then
	RUNDIR=/var/run/dpdk/$PREFIX
else
	RUNDIR=${XDG_RUNTIME_DIR:-/tmp}/dpdk/$PREFIX
fi
PID=
cleanup() {
	[ -n "$PID" ] && { pkill -9 -P "$PID"; kill -9 "$PID"; } 2>/dev/null
	rm -rf "$RUNDIR"
	# A file prefix means hugepage files named after it (unlinked at once with
	# --huge-unlink; this is for a run that was killed first).
	awk '$3 == "hugetlbfs" {print $2}' /proc/mounts | while read -r m; do
		rm -f "$m/${PREFIX}map_"*
	done
	[ -z "${SLUICE_KEEP_TMP:-}" ] && rm -rf "$TMP"
}
trap cleanup EXIT

cat >p.yaml <<EOF
sources:
  lines: { type: gen, count: 0, rate: 20000, seed: 2 }
stages:
  parse: { use: nginx_parse, inputs: [lines] }
  a-b: { use: nginx_parse, inputs: [lines] }
  a_b: { use: nginx_parse, inputs: [lines] }
sinks:
  discard: { type: "null", inputs: [parse] }
  both: { type: "null", inputs: [a-b, a_b, a-b.errors, a_b.errors] }
control: { socket: $TMP/c.sock }
EOF
timeout 60 "$SLUICE" run p.yaml --stats-json final.json -- --telemetry --file-prefix "$PREFIX" --huge-unlink \
	>run.out 2>run.err &
PID=$!
for _ in $(seq 1 100); do
	[ -S "$RUNDIR/dpdk_telemetry.v2" ] && "$SLUICE" ctl ping --socket c.sock >/dev/null 2>&1 &&
		break
	sleep 0.1
done
[ -S "$RUNDIR/dpdk_telemetry.v2" ]
tap_ok $? "the EAL serves its telemetry socket with -- --telemetry ($RUNDIR)"

python3 - "$RUNDIR/dpdk_telemetry.v2" >tel.out 2>&1 <<'PY'
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
greeting = json.loads(s.recv(16384))
dups = []
def no_dups(pairs):
    keys = [k for k, _ in pairs]
    dups.extend(k for k in set(keys) if keys.count(k) > 1)
    return dict(pairs)
def cmd(c):
    s.send(c.encode())
    return json.loads(s.recv(1 << 20), object_pairs_hook=no_dups)
out = {"greeting": greeting, "list": cmd("/"), "info": cmd("/sluice/info"),
       "nodes": cmd("/sluice/nodes"), "stats1": cmd("/sluice/stats,lines")}
time.sleep(1)
out["stats2"] = cmd("/sluice/stats,lines")
out["parse"] = cmd("/sluice/stats,parse")
out["ghost"] = cmd("/sluice/stats,ghost")
out["edges"] = cmd("/sluice/edges")
out["dups"] = dups
print(json.dumps(out))
PY
tap_ok $? "a telemetry client connects and runs the commands"
[ -s tel.out ] || echo '{}' >tel.out
q() { python3 -c "import json, sys; d = json.load(open('tel.out')); print($1)" 2>/dev/null; }
tap_is "$(q "all(c in d['list']['/'] for c in ('/sluice/info', '/sluice/nodes', '/sluice/stats', '/sluice/edges', '/eal/params'))")" \
	True "/ lists the sluice commands next to DPDK's own"
tap_is "$(q "d['nodes']['/sluice/nodes']")/$(q "d['info']['/sluice/info']['state']")" \
	"['lines', 'parse', 'a-b', 'a_b', 'discard', 'both']/running" "/sluice/nodes lists the nodes; info says running"
tap_is "$(q "0 < d['stats1']['/sluice/stats']['generated'] < d['stats2']['/sluice/stats']['generated'] and d['parse']['/sluice/stats']['kind'] == 'nginx_parse'")" \
	True "/sluice/stats,NODE: the gen source's count grows; kinds are right"
tap_is "$(q "d['ghost']['/sluice/stats']")" None "an unknown node is answered with null"
tap_is "$(q "[(e, 0 <= d['edges']['/sluice/edges'][e + '/queued'] <= d['edges']['/sluice/edges'][e + '/ring_capacity'] == 2047) for e in ('lines/parse', 'parse/discard')] + [len(d['edges']['/sluice/edges'])]")" \
	"[('lines/parse', True), ('parse/discard', True), 16]" "/sluice/edges: every edge, depth within the rings' 2047 usable slots (ring_size 2048)"
tap_is "$(q "d['dups'], sorted(set(k.rsplit('/', 1)[0] for k in d['edges']['/sluice/edges']))")" \
	"[] ['a_b/both', 'a_b/both_2', 'a_b/errors/both', 'a_b/errors/both_2', 'lines/a_b', 'lines/a_b_2', 'lines/parse', 'parse/discard']" \
	"/sluice/edges: a-b and a_b, the same key for telemetry, have one key each (_2 on the later edge)"
[ "$(q True)" = True ] || tap_diag "$(head -c 600 tel.out)"
"$SLUICE" ctl stop --socket c.sock >/dev/null 2>&1
wait "$PID"
PID=
tap_done

#!/usr/bin/env bash
# Privilege drop. As root, a running sluice with `user: nobody` / `group: nogroup` (and
# again with --user given as a numeric uid) must show, for EVERY thread in
# /proc/PID/task/*/status (main, DPDK's interrupt thread, workers, control), uid and gid
# 65534 in all four slots (real, effective, saved, filesystem), supplementary groups only
# 65534, CapEff, CapPrm, CapInh and CapAmb zero and NoNewPrivs 1, and still process events
# and drain on SIGINT. Without a user it stays root but every thread has NoNewPrivs 1. An
# unknown user fails the run at the key's file:line:column; a malformed name fails
# validation.
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
[ "$(id -u)" -eq 0 ] || tap_skip_all "needs root to test switching users (running as uid $(id -u))"
getent passwd 65534 >/dev/null || tap_skip_all "no user 65534 (nobody) on this machine"
tap_plan 14
tap_tmpdir
chmod 0755 "$TMP"
cd "$TMP" || exit 1
trap 'pkill -9 -P $$ 2>/dev/null; rm -rf "$TMP"' EXIT
eal=(-- --no-huge -m 256)
nogroup=$(getent group 65534 | cut -d: -f1)

body='sources:
  g: { type: gen, count: 0, rate: 5000 }
stages:
  parse: { use: nginx_parse, inputs: [g] }
sinks:
  out: { type: file, inputs: [parse], path: out/records.jsonl }
'
printf 'user: nobody\ngroup: %s\n%s' "$nogroup" "$body" >named.yaml
printf '%s' "$body" >plain.yaml

cat >threads.py <<'EOF'
import glob, sys
pid, want = sys.argv[1], sys.argv[2]
rows, bad = [], []
for st in sorted(glob.glob("/proc/%s/task/*/status" % pid)):
    f = {}
    for line in open(st):
        k, _, v = line.partition(":")
        f[k] = v.split()
    name = f["Name"][0] if f.get("Name") else "?"
    rows.append(name)
    checks = {"NoNewPrivs": ["1"], "CapInh": ["0" * 16], "CapAmb": ["0" * 16]}
    if want != "root":
        checks.update({"Uid": [want] * 4, "Gid": [want] * 4, "Groups": [want],
                       "CapEff": ["0" * 16], "CapPrm": ["0" * 16]})
    for k, v in checks.items():
        if f.get(k) != v:
            bad.append("%s (%s): %s %s, want %s" % (st, name, k, f.get(k), v))
print("threads: " + " ".join(rows))
for b in bad[:8]:
    print(b)
sys.exit(1 if bad or len(rows) < 3 else 0)
EOF

# run NAME YAML ARGS...: start sluice in the background, wait until it runs.
start() {
	local log=$1
	shift
	timeout 60 "$SLUICE" run "$@" -v "${eal[@]}" >"$log.out" 2>"$log.err" &
	pid=$!
	for _ in $(seq 1 200); do
		grep -q 'running .* on [0-9]* lcore' "$log.err" && break
		sleep 0.05
	done
	sleep 0.3
	# timeout's child is sluice
	spid=$(pgrep -P "$pid" | head -1)
}

start named named.yaml
tap_ok "$([ -n "$spid" ] && echo 0 || echo 1)" "sluice runs with user: nobody (pid ${spid:-none})"
python3 threads.py "$spid" 65534 >t1.out 2>&1
tap_ok $? "every thread: uid/gid 65534 x4, groups 65534, no capabilities, NoNewPrivs 1"
tap_diag "$(cat t1.out)"
grep -q 'running as user nobody (uid 65534, gid 65534), no capabilities, on every thread' named.err
tap_ok $? "the log says whom it runs as"
kill -INT "$spid"
wait "$pid"
tap_is "$?" 0 "SIGINT drains and exits 0 after the drop"
n=$(wc -l <out/records.jsonl)
tap_ok "$([ "$n" -gt 0 ] && echo 0 || echo 1)" "events flowed after the drop ($n records)"

start numeric plain.yaml --user 65534
python3 threads.py "$spid" 65534 >t2.out 2>&1
tap_ok $? "--user 65534 (numeric, its passwd group): the same on every thread"
tap_diag "$(head -1 t2.out)"
kill -INT "$spid"
wait "$pid"
tap_is "$?" 0 "... and drains"

start root plain.yaml
python3 threads.py "$spid" root >t3.out 2>&1
tap_ok $? "without a user it stays root, but every thread has NoNewPrivs 1 and no inheritable caps"
tap_diag "$(head -1 t3.out)"
tap_is "$(awk '/^Uid:/ {print $2}' "/proc/$spid/status")" 0 "... and is still uid 0"
kill -INT "$spid"
wait "$pid"
tap_is "$?" 0 "... and drains"

printf 'sources:\n  g: { type: gen, count: 10 }\nsinks:\n  o: { type: "null", inputs: [g] }\nuser: no_such_user_h8\n' >ghost.yaml
timeout 60 "$SLUICE" run ghost.yaml "${eal[@]}" >ghost.out 2>ghost.err
tap_is "$?" 1 "an unknown user fails the run"
grep -q "^ghost.yaml:5:7: user 'no_such_user_h8': no such user" ghost.err
tap_ok $? "... at the key's file:line:column"
[ "$?" -ne 0 ] && tap_diag "$(cat ghost.err)"

printf 'user: "bad name!"\nsources:\n  g: { type: gen, count: 10 }\nsinks:\n  o: { type: "null", inputs: [g] }\n' >bad.yaml
"$SLUICE" validate bad.yaml >bad.out 2>&1
tap_is "$?" 2 "a malformed user name fails validation"
grep -q "^bad.yaml:1:7: user: 'bad name!' is not a user name or id" bad.out
tap_ok $? "... with file:line:column"
[ "$?" -ne 0 ] && tap_diag "$(cat bad.out)"
tap_done

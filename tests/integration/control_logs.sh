#!/usr/bin/env bash
# Structured logs: every log line of `sluice run -vv` on stderr is logfmt by default
# (ts= level= comp= msg="...") and one JSON object with ts, level, comp and msg under
# --log-format json; DPDK's own EAL messages come through the same stream (comp dpdk).
# -vv, not -v: at -v the EAL logs warnings only, and a machine whose hugepages are ready
# may have none; at -vv it logs its info lines ("EAL: Detected CPU lcores: 2") everywhere.
# The per-node summary that follows the logs is not a log line and is cut off first.
# Data-path logs are rate-limited: a plugin stage that logs a warning for every one of
# 15,000 events (1.5 s) prints at most the burst plus the rate times the run's length, and says
# how many it suppressed (docs/control.md, "Logs").
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
tap_plan 7
tap_tmpdir
cd "$TMP" || exit 1
cat >p.yaml <<'EOF'
sources:
  lines: { type: gen, count: 1000, seed: 1 }
stages:
  parse: { use: nginx_parse, inputs: [lines] }
sinks:
  discard: { type: "null", inputs: [parse] }
EOF
# Log lines end where the summary's header ("node ... kind") begins.
logs_of() { awk '/^$/ || /^node +kind/ {exit} {print}' "$1"; }

timeout 60 "$SLUICE" run p.yaml -vv >/dev/null 2>logfmt.err
tap_is "$?" 0 "sluice run -vv exits 0"
logs_of logfmt.err >logfmt.txt
bad=$(grep -cvE '^ts=[0-9T:.-]+Z level=(error|warn|notice|info|debug) comp=[A-Za-z0-9_-]+ msg=".*"$' logfmt.txt)
tap_is "$bad/$(grep -c 'comp=dpdk msg="EAL: ' logfmt.txt | sed 's/^0$/none/;s/^[1-9][0-9]*$/some/')" \
	"0/some" "every log line is logfmt, DPDK's EAL lines included ($(wc -l <logfmt.txt) lines)"

timeout 60 "$SLUICE" run p.yaml -vv --log-format json >/dev/null 2>json.err
tap_is "$?" 0 "sluice run --log-format json exits 0"
logs_of json.err >json.txt
python3 - json.txt >check.out 2>&1 <<'PY'
import json, sys
bad, comps = [], set()
for i, line in enumerate(open(sys.argv[1]), 1):
    try:
        d = json.loads(line)
    except ValueError as e:
        bad.append("line %d: %s: %r" % (i, e, line[:80]))
        continue
    if sorted(d) != ["comp", "level", "msg", "ts"]:
        bad.append("line %d: keys %s" % (i, sorted(d)))
    comps.add(d.get("comp"))
if "dpdk" not in comps or "run" not in comps:
    bad.append("components seen: %s" % sorted(comps))
if bad:
    print("\n".join(bad[:5]))
sys.exit(1 if bad else 0)
PY
tap_ok $? "every log line is a JSON object with ts, level, comp, msg; dpdk and run among them"
[ -s check.out ] && tap_diag "$(cat check.out)"
"$SLUICE" run p.yaml --log-format yaml >/dev/null 2>bad.err
tap_is "$?/$(grep -c 'takes logfmt or json' bad.err)" "2/1" "an unknown --log-format is a usage error"

cp "$SLUICE_BUILD/plugins/testing/version_tag_v1.so" . && chmod 0644 version_tag_v1.so
cat >flood.yaml <<'EOF'
plugins: [./version_tag_v1.so]
sources:
  lines: { type: gen, count: 15000, rate: 10000 }
stages:
  noisy: { use: version_tag, inputs: [lines], note: log }
sinks:
  out: { type: file, inputs: [noisy], path: out.log, format: raw }
EOF
start=$(date +%s%N)
timeout 60 "$SLUICE" run flood.yaml >/dev/null 2>flood.err
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
# Burst 10, then 5 a second (log.h) over the 1.5 s the paced source takes.
n=$(grep -c 'comp=noisy msg="event ' flood.err)
limit=$((10 + 5 * (ms / 1000 + 1)))
tap_ok $(( rc == 0 && n > 10 && n <= limit && $(wc -l <out.log) == 15000 ? 0 : 1 )) \
	"a stage logging each of 15,000 events prints $n lines (10 < n <= $limit in $ms ms), all pass"
grep -q 'comp=noisy msg="[0-9]* similar lines suppressed' flood.err
tap_ok $? "suppressed lines are counted when the next one goes"
tap_done

#!/usr/bin/env bash
# The pipeline from issue 2, end to end on 1,000,000 generated nginx lines with about 1%
# malformed lines mixed in: count requests by status and keep the raw 5xx lines. Expected
# values come from mawk (tests/lib/nginx_ref.sh), never from sluice. Four cases: default
# EAL arguments; more lcores than CPUs (`--lcores '0@0,(1-3)@1'`); two replicas of parse;
# `--replicas 2` (lanes: the file split between two source replicas).
# Each case checks exit status, the status counts (order-insensitive), the 5xx lines as a
# multiset and, with one replica per stage, in input order; per-node counters from
# --stats-json against the reference, and conservation at every stage and sink.
set -u
. "$(dirname "$0")/../lib/tap.sh"
. "$TESTLIB/nginx_ref.sh"
tap_need_sluice

N_LINES=${N_LINES:-1000000}
PER_CASE=13
tap_plan $((4 * PER_CASE))
tap_tmpdir

# Inputs and references, shared by the cases.
mkdir -p "$TMP/data"
python3 "$TESTLIB/gen_nginx_log.py" -n "$N_LINES" -o "$TMP/data/access.log" --seed 2 \
	--bad-ratio 0.01
nginx_ref_all "$TMP/data/access.log" "$TMP/expect"
LC_ALL=C sort "$TMP/expect.5xx" >"$TMP/expect.5xx.sorted"
read -r n_lines n_valid n_invalid <"$TMP/expect.totals"
n_5xx=$(wc -l <"$TMP/expect.5xx")
n_status=$(wc -l <"$TMP/expect.counts")
tap_diag "input: $n_lines lines, $n_valid valid, $n_invalid malformed, $n_5xx with status >= 500"

write_pipeline() { # $1 = file, $2 = extra text inside parse's mapping
	cat >"$1" <<EOF
sources:
  access: { type: file, path: tests/data/access.log }
stages:
  parse:     { use: nginx_parse, inputs: [access]$2 }
  errors:    { use: filter, inputs: [parse], where: "status >= 500" }
  by_status: { use: count, inputs: [parse], key: status, window: all }
sinks:
  status_counts: { type: file, inputs: [by_status], path: out/status.jsonl, format: jsonl }
  server_errors: { type: file, inputs: [errors], path: out/5xx.log, format: raw }
EOF
}

stat_of() { python3 "$TESTLIB/check_stats.py" get "$D/stats.json" "$@" 2>/dev/null || echo "?"; }

# run_case NAME ORDERED PARSE_EXTRA [EAL args...]
run_case() {
	local name=$1 ordered=$2 extra=$3
	shift 3
	D=$TMP/$name
	mkdir -p "$D/tests/data" "$D/out"
	ln "$TMP/data/access.log" "$D/tests/data/access.log"
	write_pipeline "$D/pipeline.yaml" "$extra"
	local eal=()
	[ $# -gt 0 ] && eal=(-- "$@")
	local t0=$SECONDS rc
	(cd "$D" && timeout 300 "$SLUICE" run pipeline.yaml --stats-json stats.json \
		"${RUN_ARGS[@]}" "${eal[@]}" >stdout 2>stderr)
	rc=$?
	tap_diag "[$name] sluice run pipeline.yaml --stats-json stats.json ${RUN_ARGS[*]} ${eal[*]}:" \
		"exit $rc" \
		"in $((SECONDS - t0)) s"
	tap_is "$rc" 0 "[$name] sluice run exits 0"
	if [ "$rc" -ne 0 ]; then
		tap_diag "$(tail -20 "$D/stderr")"
	fi

	python3 "$TESTLIB/check_stats.py" counts "$D/out/status.jsonl" status >"$D/got.counts" \
		2>"$D/counts.err"
	tap_ok $? "[$name] status.jsonl holds one {status, count} object per status"
	[ -s "$D/counts.err" ] && tap_diag "$(head -5 "$D/counts.err")"
	sort -n "$D/got.counts" >"$D/got.counts.sorted"
	tap_cmp "$D/got.counts.sorted" "$TMP/expect.counts" \
		"[$name] status counts equal mawk's ($n_status statuses)"

	touch "$D/out/5xx.log"
	LC_ALL=C sort "$D/out/5xx.log" >"$D/got.5xx.sorted"
	tap_cmp "$D/got.5xx.sorted" "$TMP/expect.5xx.sorted" \
		"[$name] 5xx.log holds the $n_5xx valid lines with status >= 500 (as a multiset)"
	if cmp -s "$D/out/5xx.log" "$TMP/expect.5xx"; then
		tap_diag "[$name] 5xx.log is in input order"
		order=0
	else
		tap_diag "[$name] 5xx.log is NOT in input order"
		order=1
	fi
	if [ "$ordered" = yes ]; then
		tap_ok $order "[$name] 5xx.log is in input order (one replica per stage)"
	else
		tap_skip 1 "[$name] order not promised with replicas (reported above)"
	fi

	if [ ! -s "$D/stats.json" ]; then
		tap_ok 1 "[$name] --stats-json wrote stats.json"
		tap_skip $((PER_CASE - 6)) "no stats.json"
		return
	fi
	tap_ok 0 "[$name] --stats-json wrote stats.json"
	python3 "$TESTLIB/check_stats.py" conserve "$D/stats.json" >"$D/conserve.out"
	tap_ok $? "[$name] every stage and sink conserves events, in_flight 0"
	[ -s "$D/conserve.out" ] && tap_diag "$(cat "$D/conserve.out")"
	tap_is "$(stat_of access out)" "$n_lines" "[$name] source access produced one event per line"
	tap_is "$(stat_of parse in)" "$n_lines" "[$name] parse received every line"
	tap_is "$(stat_of by_status in)" "$n_valid" "[$name] count received the $n_valid valid records"
	tap_is "$(stat_of errors in)/$(stat_of errors out)" "$n_valid/$n_5xx" \
		"[$name] filter: in = valid records, out = 5xx records"
	tap_is "$(stat_of server_errors in)/$(stat_of status_counts in)" "$n_5xx/$n_status" \
		"[$name] sinks received 5xx lines and one record per status"
	missing=
	for node in access parse errors by_status status_counts server_errors; do
		grep -qw -- "$node" "$D/stderr" || missing="$missing $node"
	done
	tap_is "${missing:-none}" none "[$name] the summary on stderr names every node"
	tap_diag "[$name] parse replicas reported: $(stat_of parse replicas)," \
		"lcores: $(python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get("lcores", "?"))' \
		"$D/stats.json" 2>/dev/null)"
}

RUN_ARGS=()
run_case default yes ""
run_case lcores yes "" --lcores '0@0,(1-3)@1'
run_case replicas no ", replicas: 2"
# Lanes: the file split between two source replicas, every stage in two replicas.
RUN_ARGS=(--replicas 2)
run_case lanes no ""
tap_done

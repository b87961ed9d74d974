# shellcheck shell=bash
# Helpers for the line-parser integration scripts (json_parse.sh, logfmt_parse.sh,
# syslog_parse.sh, regex_parse.sh), sourced after tap.sh: a pipeline in which each parser
# stage reads in.log and writes its records, error records and raw bad lines to
# out/NAME.jsonl, out/NAME.errors.jsonl and out/NAME.errors.raw; the run; the comparison
# with the script's Python reference (ref.py, which uses parser_check.py); conservation.

# parser_pipeline NAME='use: STAGE[, PARAM: VALUE...]' ...: write pipeline.yaml.
parser_pipeline() {
	local s n
	{
		echo "sources:"
		echo "  in: { type: file, path: in.log }"
		echo "stages:"
		for s in "$@"; do
			echo "  ${s%%=*}: { ${s#*=}, inputs: [in] }"
		done
		echo "sinks:"
		for s in "$@"; do
			n=${s%%=*}
			echo "  ${n}_recs: { type: file, inputs: [$n], path: out/$n.jsonl, format: jsonl }"
			echo "  ${n}_errs: { type: file, inputs: [$n.errors], path: out/$n.errors.jsonl, format: jsonl }"
			echo "  ${n}_raw: { type: file, inputs: [$n.errors], path: out/$n.errors.raw, format: raw }"
		done
	} >pipeline.yaml
	mkdir -p out
}

# parser_run NAME... [-- SLUICE RUN OPTIONS]: run pipeline.yaml (one TAP test: it exits 0);
# the outputs of every NAME exist afterwards, empty when nothing reached them.
parser_run() {
	local rc n names=() opts=()
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do
		names+=("$1")
		shift
	done
	[ $# -gt 0 ] && shift && opts=("$@")
	rm -f out/*
	timeout 60 "$SLUICE" run pipeline.yaml --stats-json stats.json "${opts[@]}" >stdout 2>stderr
	rc=$?
	tap_is "$rc" 0 "sluice run exits 0"
	[ "$rc" -ne 0 ] && tap_diag "$(tail -10 stderr)"
	for n in "${names[@]}"; do
		touch "out/$n.jsonl" "out/$n.errors.jsonl" "out/$n.errors.raw"
	done
}

# parser_compare NAME MODE DESCRIPTION: one TAP test, ref.py MODE against NAME's outputs
# (in input order; as multisets when PARSER_UNORDERED=1 is exported, for replicas).
parser_compare() {
	python3 ref.py "$SLUICE_SOURCE/tests/integration" "$2" in.log "out/$1.jsonl" \
		"out/$1.errors.jsonl" "out/$1.errors.raw" >"$1.out" 2>&1
	tap_ok $? "$3"
	tap_diag "$(cat "$1.out")"
}

# parser_conserve: one TAP test, every node conserves events.
parser_conserve() {
	python3 "$TESTLIB/check_stats.py" conserve stats.json >conserve.out 2>&1
	tap_ok $? "every stage and sink conserves events, in_flight 0"
	[ -s conserve.out ] && tap_diag "$(cat conserve.out)"
}

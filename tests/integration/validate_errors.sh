#!/usr/bin/env bash
# Bad pipelines are refused with a precise location. For each broken pipeline below,
# `sluice validate` must exit 2 and print a FILE:LINE:COLUMN: message whose FILE:LINE is
# the line of the mistake (found with grep -n on the file as written, never taken from
# sluice) and, where the mistake is one token, whose COLUMN is that token's (awk index);
# `sluice run` on the same file must exit 2 and leave the directory untouched
# (no sink output, no stats file). A good pipeline validates and runs as a control; an
# unquoted `type: null` sink is accepted or explained; two mistakes in a file are both
# reported, also when one is found by a later phase (replicas, a stage's parameters).
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
tap_tmpdir

N_CASES=15
tap_plan $((4 + N_CASES * 3 + 8 + 2))

# A good pipeline as the base every case breaks in one place.
good() {
	cat <<'EOF'
sources:
  access: { type: file, path: access.log }
stages:
  parse: { use: nginx_parse, inputs: [access] }
  errors: { use: filter, inputs: [parse], where: "status >= 500" }
  by_status: { use: count, inputs: [parse], key: status, window: all }
sinks:
  status_counts: { type: file, inputs: [by_status], path: out/status.jsonl, format: jsonl }
  server_errors: { type: file, inputs: [errors], path: out/5xx.log, format: raw }
EOF
}

python3 "$TESTLIB/gen_nginx_log.py" -n 1000 -o "$TMP/access.log" --seed 4

# Control: the unbroken pipeline is fine.
mkdir -p "$TMP/good/out"
cp "$TMP/access.log" "$TMP/good/"
good >"$TMP/good/pipeline.yaml"
(cd "$TMP/good" && "$SLUICE" validate pipeline.yaml >stdout 2>stderr)
rc=$?
tap_is "$rc" 0 "control: the good pipeline validates (exit 0)"
[ "$rc" -ne 0 ] && tap_diag "$(head -10 "$TMP/good/stderr")"
(cd "$TMP/good" && timeout 60 "$SLUICE" run pipeline.yaml >stdout 2>stderr)
rc=$?
tap_is "$rc" 0 "control: the good pipeline runs (exit 0)"
tap_ok "$([ -s "$TMP/good/out/status.jsonl" ]; echo $?)" "control: the good pipeline writes out/status.jsonl"

# A null sink written the natural way, `type: null`, is a YAML null scalar, not the
# string "null": sluice should take it as the sink kind or at least say to quote it.
mkdir -p "$TMP/null_sink"
good | sed -e 's/^  server_errors: .*/  server_errors: { type: null, inputs: [errors] }/' \
	>"$TMP/null_sink/pipeline.yaml"
(cd "$TMP/null_sink" && "$SLUICE" validate pipeline.yaml >stdout 2>stderr)
rc=$?
tap_ok "$([ "$rc" = 0 ] || grep -qF '"null"' "$TMP/null_sink/stderr"; echo $?)" \
	"unquoted 'type: null' validates, or the error says to write \"null\" (exit $rc)"
[ "$rc" -ne 0 ] && tap_diag "$(head -5 "$TMP/null_sink/stderr")"

# Every file under a directory with its size, to see what a run created or changed.
snapshot() {
	(cd "$1" && find . -printf '%p %s\n' | LC_ALL=C sort)
}

# check_case NAME MARKER [MARKER2]: the pipeline is in $TMP/NAME/pipeline.yaml; the error
# must be reported at the line holding MARKER (or MARKER2: either of two lines is right,
# for a cycle).
check_case() {
	local name=$1 d=$TMP/$1 lines l rc want
	shift
	lines=
	for m in "$@"; do
		l=$(grep -nF -- "$m" "$d/pipeline.yaml" | tail -1 | cut -d: -f1)
		[ -n "$l" ] || { echo "# BUG in test: marker '$m' not in $name"; exit 1; }
		lines="$lines $l"
	done
	cp "$TMP/access.log" "$d/"
	mkdir -p "$d/out"
	(cd "$d" && "$SLUICE" validate pipeline.yaml >stdout 2>stderr)
	rc=$?
	tap_is "$rc" 2 "$name: sluice validate exits 2"
	want=
	for l in $lines; do
		grep -qE "(^|/)pipeline\.yaml:$l:[0-9]+: " "$d/stderr" && want=ok
	done
	tap_is "${want:-missing}" ok "$name: an error is reported at pipeline.yaml:{$lines }:COL:"
	[ -z "$want" ] && tap_diag "stderr: $(head -c 1500 "$d/stderr")"
	snapshot "$d" >"$d.before"
	(cd "$d" && timeout 60 "$SLUICE" run pipeline.yaml >"$d.run.stdout" 2>"$d.run.stderr")
	rc=$?
	snapshot "$d" >"$d.after"
	if [ "$rc" = 2 ] && cmp -s "$d.before" "$d.after"; then
		tap_ok 0 "$name: sluice run exits 2 and writes no files"
	else
		tap_ok 1 "$name: sluice run exits 2 and writes no files"
		tap_diag "run exit $rc; new files: $(comm -13 "$d.before" "$d.after" | tr '\n' ' ')"
	fi
}

# check_col NAME TOKEN [SPAN]: an error on TOKEN's line must point at TOKEN's column
# (computed with awk index on the file), or anywhere inside the SPAN bytes from there.
check_col() {
	local d=$TMP/$1 tok=$2 span=${3:-1} l c got
	l=$(grep -nF -- "$tok" "$d/pipeline.yaml" | tail -1 | cut -d: -f1)
	c=$(awk -v l="$l" -v t="$tok" 'NR == l { print index($0, t) }' "$d/pipeline.yaml")
	got=$(grep -oE "(^|/)pipeline\.yaml:$l:[0-9]+: " "$d/stderr" | head -1 | cut -d: -f3)
	tap_ok "$([ -n "$got" ] && [ "$got" -ge "$c" ] && [ "$got" -lt $((c + span)) ]; echo $?)" \
		"$1: the column points at '$tok' (line $l, column $c..$((c + span - 1)), got ${got:-none})"
}

# new_case NAME SED_SCRIPT: the good pipeline edited by sed.
new_case() {
	mkdir -p "$TMP/$1"
	good | sed -e "$2" >"$TMP/$1/pipeline.yaml"
}

new_case unknown_key 's/inputs: \[parse\], key: status/inputs: [parse], colour: red, key: status/'
check_case unknown_key "colour: red"
check_col unknown_key colour

new_case wrong_type 's/parse: { use: nginx_parse, inputs: \[access\] }/parse: { use: nginx_parse, inputs: [access], replicas: many }/'
check_case wrong_type "replicas: many"
check_col wrong_type many

new_case dangling_input 's/errors: { use: filter, inputs: \[parse\]/errors: { use: filter, inputs: [prase]/'
check_case dangling_input "inputs: [prase]"
check_col dangling_input prase

new_case cycle '/^sinks:/i\
  loop_a: { use: filter, inputs: [loop_b], where: "status >= 400" }\
  loop_b: { use: filter, inputs: [parse, loop_a], where: "status >= 400" }'
check_case cycle "loop_a:" "loop_b:"

new_case duplicate_name '/^  by_status:/a\
  errors: { use: filter, inputs: [parse], where: "status >= 400" }'
check_case duplicate_name 'where: "status >= 400"'

new_case duplicate_across '/^  by_status:/a\
  access: { use: filter, inputs: [parse], where: "status >= 400" }'
check_case duplicate_across 'access: { use: filter'

new_case unknown_stage 's/use: nginx_parse/use: nginx_prase/'
check_case unknown_stage "use: nginx_prase"
check_col unknown_stage nginx_prase

new_case bad_filter 's/where: "status >= 500"/where: "status >== 500"/'
check_case bad_filter 'where: "status >== 500"'
check_col bad_filter '"status >== 500"' 16

new_case unknown_source_type 's/type: file, path: access.log/type: fiel, path: access.log/'
check_case unknown_source_type "type: fiel"
check_col unknown_source_type fiel

# A value only the source's own check knows is out of range (no event holds such a line).
new_case line_too_long 's/path: access.log }/path: access.log, max_line_bytes: 5000 }/'
check_case line_too_long "max_line_bytes: 5000"
check_col line_too_long 5000

# Files two nodes would share: two sinks writing one file (as ./out/... and out/...), a
# sink writing the file a source reads, two sources keeping one checkpoint file.
new_case same_sink_file 's#path: out/5xx.log#path: ./out/status.jsonl#'
check_case same_sink_file "server_errors:"
new_case sink_on_source 's#path: out/5xx.log#path: access.log#'
check_case sink_on_source "server_errors:"
new_case shared_checkpoint 's#  access: { type: file, path: access.log }#  access: { type: file, path: access.log, checkpoint: ck }\n  again: { type: file, path: access.log, checkpoint: ./ck }#; s#inputs: \[access\] }#inputs: [access, again] }#'
check_case shared_checkpoint "checkpoint: ./ck"
check_col shared_checkpoint "./ck"

new_case missing_required 's/, key: status, window: all//'
check_case missing_required "by_status:"

mkdir -p "$TMP/yaml_syntax"
good | sed -e 's/inputs: \[parse\], where/inputs: [parse, where/' >"$TMP/yaml_syntax/pipeline.yaml"
check_case yaml_syntax 'inputs: [parse, where'

# check_two NAME MARKER1 MARKER2 WHAT: the pipeline in $TMP/NAME has two mistakes, on the
# lines holding MARKER1 and MARKER2 (grep -n); validate must report both.
check_two() {
	local d=$TMP/$1 l1 l2 n=0
	(cd "$d" && "$SLUICE" validate pipeline.yaml >stdout 2>stderr)
	l1=$(grep -nF -- "$2" "$d/pipeline.yaml" | cut -d: -f1)
	l2=$(grep -nF -- "$3" "$d/pipeline.yaml" | cut -d: -f1)
	grep -qE "(^|/)pipeline\.yaml:$l1:[0-9]+: " "$d/stderr" && n=$((n + 1))
	grep -qE "(^|/)pipeline\.yaml:$l2:[0-9]+: " "$d/stderr" && n=$((n + 1))
	tap_is "$n" 2 "$4 (lines $l1 and $l2): both reported"
	[ "$n" -ne 2 ] && tap_diag "stderr: $(head -c 1500 "$d/stderr")"
}

# Two mistakes in one file: both are reported.
mkdir -p "$TMP/two"
good | sed -e 's/use: nginx_parse/use: nginx_prase/' -e 's/key: status, window: all/key: status, window: all, colour: red/' \
	>"$TMP/two/pipeline.yaml"
check_two two "nginx_prase" "colour: red" "two mistakes"

# Mistakes of different phases (replicas judged after the document, stage parameters at
# their init): both reported.
mkdir -p "$TMP/phases"
good | sed -e 's/path: access.log }/path: access.log, follow: true, replicas: 2 }/' \
	-e 's/where: "status >= 500"/where: "status >= "/' >"$TMP/phases/pipeline.yaml"
check_two phases "replicas: 2" 'where: "status >= "' \
	"replicas on a source that cannot split and a bad filter"
tap_done

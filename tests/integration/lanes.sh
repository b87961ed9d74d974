#!/usr/bin/env bash
# Lanes (`--replicas N`): a file split between source replicas and chains of replicated
# stages deliver every line exactly once, for several file sizes (one line, fewer bytes
# than replicas, a file whose shares end at very different times) and replica counts, with
# nothing left queued between nodes. Regression: a source node was marked done when its
# first replica finished, so the other replica's lines were stranded in a ring (or, with a
# full ring, the run hung); the per-lane line counts come from wc, the multiset from sort.
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
PLUGIN=$SLUICE_BUILD/plugins/template/template.so
[ -f "$PLUGIN" ] || tap_skip_all "template plugin not built: $PLUGIN"
tap_plan 20
tap_tmpdir
cd "$TMP"

python3 "$TESTLIB/gen_nginx_log.py" -n 20000 -o medium.log --seed 3 >/dev/null
printf 'only one line\n' > one.log
printf 'a\nb\n' > tiny.log
# Short lines first, then long ones: equal byte shares hold very different line counts.
{ for i in $(seq 1 3000); do echo "s$i"; done
  for i in $(seq 1 300); do printf 'long%0200d\n' "$i"; done; } > skewed.log

for input in medium one tiny skewed; do
	for n in 2 3; do
		cat > p.yaml <<YAML
plugins: [$PLUGIN]
sources:
  src: { type: file, path: $input.log }
stages:
  a: { use: template, inputs: [src] }
  b: { use: template, inputs: [a] }
sinks:
  out: { type: file, inputs: [b], path: out.log, format: raw }
YAML
		rm -f out.log
		timeout 60 "$SLUICE" run p.yaml -q --replicas "$n" --stats-json s.json
		rc=$?
		sort out.log > got 2>/dev/null
		grep -v '^$' "$input.log" | sort > want
		if [ "$rc" -eq 0 ] && cmp -s got want; then
			tap_ok 0 "[$input, --replicas $n] every line delivered once ($(wc -l < want) lines)"
		else
			tap_ok 1 "[$input, --replicas $n] every line delivered once"
			tap_diag "exit $rc; got $(wc -l < got) lines, want $(wc -l < want)"
		fi
		python3 "$TESTLIB/check_stats.py" conserve s.json > conserve.out
		tap_ok $? "[$input, --replicas $n] conservation, nothing queued or pending"
		[ -s conserve.out ] && tap_diag "$(head -5 conserve.out)"
	done
done
# gen splits its count: 10001 lines over 3 replicas arrive whole.
cat > g.yaml <<'YAML'
sources:
  g: { type: gen, count: 10001, seed: 4 }
stages:
  parse: { use: nginx_parse, inputs: [g] }
sinks:
  out: { type: "null", inputs: [parse] }
YAML
timeout 60 "$SLUICE" run g.yaml -q --replicas 3 --stats-json s.json
tap_is "$?" 0 "[gen, --replicas 3] exits 0"
tap_is "$(python3 "$TESTLIB/check_stats.py" get s.json out in)" 10001 "[gen] the sink got 10001 events"
# A source kind that cannot split refuses replicas (none ships yet besides file and gen,
# so check the spelled-out form is accepted and a bad count refused).
printf 'sources:\n  s: { type: file, path: one.log, replicas: 0 }\nsinks:\n  o: { type: "null", inputs: [s] }\n' > bad.yaml
"$SLUICE" validate bad.yaml 2> bad.err
tap_is "$?" 2 "replicas: 0 on a source is refused"
grep -q 'bad.yaml:2:.*replicas' bad.err
tap_ok $? "the error names bad.yaml:2 and replicas"
tap_done

# The input and plugin copies of the sandbox tests (isolation.sh, isolation_records.sh),
# sourced in the test's temporary directory after tap.sh. isolation_fixture PLUGIN...:
#   - build/plugins/testing/PLUGIN.so for each (the issue's pipeline names that path; a copy
#     with a mode the loader accepts, whatever the build's umask was);
#   - in.log, 3000 lines with the marker BOOM on lines 100, 1500 and 2999 (the last: nothing
#     follows it), kept.want (the others) and dead.want ("offset line" of the marked ones),
#     all computed here from the lines written, never from sluice;
#   - p.yaml, issue 8's pipeline as written: crash_on with `isolation: process`, its
#     `failed` output to a dlq sink (the cases edit copies of it).
isolation_fixture() {
	mkdir -p build/plugins/testing
	for p in "$@"; do
		cp "$SLUICE_BUILD/plugins/testing/$p.so" build/plugins/testing/ &&
			chmod 0644 "build/plugins/testing/$p.so"
	done
	python3 - <<'PY'
marked = {100, 1500, 2999}
with open("in.log", "wb") as f, open("kept.want", "wb") as k, open("dead.want", "w") as d:
    off = 0
    for i in range(3000):
        l = b"event %d %s" % (i, b"BOOM" if i in marked else b"fine")
        f.write(l + b"\n")
        if i in marked:
            d.write("%d %s\n" % (off, l.decode()))
        else:
            k.write(l + b"\n")
        off += len(l) + 1
PY
	cat >p.yaml <<'YAML'
plugins: [build/plugins/testing/crash_on.so]
sources:
  access: { type: file, path: in.log }
stages:
  risky: { use: crash_on, inputs: [access], marker: "BOOM", isolation: process }
sinks:
  kept: { type: file, inputs: [risky], path: out/kept.log, format: raw }
  dead: { type: dlq, inputs: [risky.failed], path: out/dlq.jsonl }
YAML
}

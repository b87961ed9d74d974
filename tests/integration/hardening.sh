#!/usr/bin/env bash
# Hardening flags of the built binary (issue 8, STYLE.md): PIE, full RELRO (a GNU_RELRO
# segment and BIND_NOW), stack protector (__stack_chk_fail imported) and fortify
# (_FORTIFY_SOURCE=3 on every compile of build/sluice's sources, __*_chk functions
# imported), checked with readelf and nm on build/sluice and with the build's own
# compile_commands.json, checksec-style. A sanitizer or unoptimised build has no fortify
# (ASan replaces those checks); those two checks skip there and say why.
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
command -v readelf >/dev/null && command -v nm >/dev/null || tap_skip_all "readelf/nm (binutils) not installed"
tap_plan 6
tap_tmpdir

readelf -h "$SLUICE" >"$TMP/h" 2>&1
grep -Eq 'Type: +DYN \(Position-Independent Executable' "$TMP/h"
tap_ok $? "sluice is a position-independent executable (PIE)"
readelf -lW "$SLUICE" | grep -q 'GNU_RELRO'
tap_ok $? "it has a GNU_RELRO segment (RELRO)"
readelf -d "$SLUICE" >"$TMP/d" 2>&1
grep -Eq '\(BIND_NOW\)|Flags: .*NOW' "$TMP/d"
tap_ok $? "it binds every symbol at load (BIND_NOW: full RELRO)"
nm -D "$SLUICE" | grep -q ' U __stack_chk_fail'
tap_ok $? "it is built with a stack protector (imports __stack_chk_fail)"

cc_json=$SLUICE_BUILD/compile_commands.json
if python3 - "$cc_json" <<'EOF'; then
import json, sys
cmds = json.load(open(sys.argv[1]))
sys.exit(0 if any("-fsanitize=address" in c.get("command", "") or " -O0 " in c.get("command", "") + " " for c in cmds) else 1)
EOF
	tap_skip 2 "sanitizer or unoptimised build: no _FORTIFY_SOURCE here (release builds are checked)"
else
	python3 - "$cc_json" "$SLUICE_SOURCE" >"$TMP/f" 2>&1 <<'EOF'
import json, os, sys
cmds = json.load(open(sys.argv[1]))
mine = [c for c in cmds if "/dataplane/" in c["file"] or "/stages/" in c["file"]]
bad = [c["file"] for c in mine if "-D_FORTIFY_SOURCE=3" not in c["command"].split()]
if not mine:
    print("no dataplane/ or stages/ compile commands")
for f in bad[:5]:
    print("without -D_FORTIFY_SOURCE=3:", f)
sys.exit(1 if bad or not mine else 0)
EOF
	tap_ok $? "every dataplane/ and stages/ file is compiled with -D_FORTIFY_SOURCE=3"
	grep -q . "$TMP/f" && tap_diag "$(cat "$TMP/f")"
	n=$(nm -D "$SLUICE" | grep -Ec ' U __[a-z_]+_chk@')
	[ "$n" -gt 0 ]
	tap_ok $? "fortified libc calls are in use ($n __*_chk imports)"
fi
tap_done

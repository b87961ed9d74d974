#!/usr/bin/env bash
# Where plugins may be loaded from (dataplane/resilience/plugin_trust.c, docs/plugins.md):
# `sluice validate` loads each pipeline's plugins. A plugin reached through a symlinked
# directory, in a group-writable directory or one owned by another user is refused with
# the directory named; with `plugin_dirs:` a plugin elsewhere is refused and one inside is
# loaded; a plugin file owned by the service user (`user:`) is accepted, the same file
# without `user:` is not. The sticky, world-writable /tmp above the test directory is
# accepted, as every other plugin test relies on.
set -u
. "$(dirname "$0")/../lib/tap.sh"
tap_need_sluice
plugin=$SLUICE_BUILD/plugins/testing/crash_on.so
[ -f "$plugin" ] || tap_skip_all "crash_on plugin not built: $plugin"
tap_plan 14
tap_tmpdir
chmod 0755 "$TMP"
cd "$TMP" || exit 1

mkdir -p ok gw other
cp "$plugin" ok/p.so && chmod 0644 ok/p.so
cp ok/p.so gw/p.so && chmod 0775 gw
cp ok/p.so other/p.so
ln -s ok link

# check NAME EXPECTED_STATUS MESSAGE_REGEX YAML_HEAD: validate a pipeline using the plugin.
check() {
	local name=$1 want=$2 msg=$3 head=$4
	printf '%s\nsources:\n  s: { type: gen, count: 1 }\nstages:\n  c: { use: crash_on, inputs: [s], marker: X }\nsinks:\n  o: { type: "null", inputs: [c] }\n' \
		"$head" >"$name.yaml"
	"$SLUICE" validate "$name.yaml" >"$name.out" 2>&1
	tap_is "$?" "$want" "$name: validate exits $want"
	if [ -n "$msg" ]; then
		grep -Eq "$msg" "$name.out"
		tap_ok $? "$name: the message says why"
		[ "$?" -ne 0 ] && tap_diag "$(cat "$name.out")"
	fi
}

check plain 0 "" 'plugins: [ok/p.so]'
check symlinked_dir 2 "plugin link/p.so: directory $TMP/link is a symlink; plugins are not loaded through symlinks" 'plugins: [link/p.so]'
check writable_dir 2 "plugin gw/p.so: directory $TMP/gw is group- or world-writable \\(mode 0775\\); chmod go-w it" 'plugins: [gw/p.so]'
check outside 2 "plugin other/p.so: not in a plugin directory \\($TMP/other; plugin_dirs: $TMP/ok\\)" "$(printf 'plugin_dirs: [%s/ok]\nplugins: [other/p.so]' "$TMP")"
check inside 0 "" "$(printf 'plugin_dirs: [%s/ok]\nplugins: [ok/p.so]' "$TMP")"
check no_dir 2 "plugin_dirs: $TMP/nowhere: No such file or directory" "$(printf 'plugin_dirs: [%s/nowhere]\nplugins: [ok/p.so]' "$TMP")"
if [ "$(id -u)" -eq 0 ] && getent passwd 65534 >/dev/null; then
	chown 12345 other
	check foreign_dir 2 "directory $TMP/other is owned by uid 12345" 'plugins: [other/p.so]'
	chown 0 other
	chown 65534 other/p.so
	check service_user 0 "" "$(printf 'user: "65534"\nplugins: [other/p.so]')"
	"$SLUICE" validate service_user.yaml >/dev/null 2>&1
	sed -i '/^user:/d' service_user.yaml
	"$SLUICE" validate service_user.yaml >su2.out 2>&1
	tap_ok "$(grep -q 'is owned by uid 65534, not by root' su2.out && echo 0 || echo 1)" \
		"the same file without user: is refused"
else
	tap_skip 3 "changing owners needs root"
fi
tap_done

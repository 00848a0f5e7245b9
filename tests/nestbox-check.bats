# `nestbox check FILE`: the init binary called as nestbox (argv[0]) checks a
# nestbox-guests declaration (docs/guests.md) on the build host, as it does in
# the image through /usr/bin/nestbox -> /init.
load helpers

INIT=$OUT/init/init
GOLDEN=$TOP/tests/unit/golden/guests

setup() {
	[ -x "$INIT" ] || skip "no $INIT: run make init"
}

nestbox() {
	bash -c 'exec -a nestbox "$0" "$@"' "$INIT" "$@"
}

@test "a valid declaration: exit 0 and the count" {
	run nestbox check "$GOLDEN/valid.json"
	assert_success
	assert_output "$GOLDEN/valid.json: 3 guests valid, 0 invalid"
}

@test "the complete example in docs/guests.md passes" {
	awk '/^```json$/ { on = 1; next } on && /^```$/ { exit } on' "$TOP/docs/guests.md" \
		>"$BATS_TEST_TMPDIR/example.json"
	[ -s "$BATS_TEST_TMPDIR/example.json" ]
	run nestbox check "$BATS_TEST_TMPDIR/example.json"
	assert_success
	assert_output --regexp ': [0-9]+ guests valid, 0 invalid$'
	# and it shows what the docs promise: several guests, gs://, pd:, cloud-init, a forward
	grep -q '"gs://' "$BATS_TEST_TMPDIR/example.json"
	grep -q '"pd:' "$BATS_TEST_TMPDIR/example.json"
	grep -q '"cloud-init"' "$BATS_TEST_TMPDIR/example.json"
	grep -q '"forwards"' "$BATS_TEST_TMPDIR/example.json"
}

@test "invalid guests: each error on its line, the others counted, exit 1" {
	run nestbox check "$GOLDEN/mixed.json"
	assert_failure 1
	f=$GOLDEN/mixed.json
	assert_line --index 0 "$f: guest #2: name: \"Typo\" is not a valid name ([a-z][a-z0-9-]{0,62})"
	assert_line --index 1 "$f: guest typo: memroy: unknown field"
	assert_line --index 2 "$f: guest big: memory: \"2T\" is more than 1 TiB"
	assert_line --index 3 "$f: guest clash: forwards[0]: tcp port 2222 of the L1 is already forwarded to guest ok"
	assert_line --index 4 "$f: guest plain: disks[0].source: http:// needs a sha256 (or use https://)"
	assert_line --index 5 "$f: guest escape: qemu-args[0]: \"-chardev\" is not allowed (-device, -smbios, -rtc)"
	assert_line --index 6 "$f: 2 guests valid, 6 invalid"
	[ "${#lines[@]}" -eq 7 ]
}

@test "a broken document is rejected whole" {
	run nestbox check "$GOLDEN/broken.json"
	assert_failure 1
	assert_line --index 0 "$GOLDEN/broken.json: nestbox-guests: not valid JSON (at byte 56)"
	assert_line --index 1 "$GOLDEN/broken.json: rejected, no guest would run"
	echo '{"version": 2, "guests": []}' >"$BATS_TEST_TMPDIR/v2.json"
	run nestbox check "$BATS_TEST_TMPDIR/v2.json"
	assert_failure 1
	assert_line --index 0 "$BATS_TEST_TMPDIR/v2.json: nestbox-guests: version: this version is not supported (this is version 1)"
}

@test "a document over 256 KiB is refused" {
	head -c 262145 /dev/zero | tr '\0' ' ' >"$BATS_TEST_TMPDIR/big.json"
	run nestbox check "$BATS_TEST_TMPDIR/big.json"
	assert_failure 1
	assert_line --index 0 "$BATS_TEST_TMPDIR/big.json: nestbox-guests: larger than 262144 bytes"
	head -c 1048576 /dev/zero | tr '\0' ' ' >"$BATS_TEST_TMPDIR/huge.json"
	run nestbox check "$BATS_TEST_TMPDIR/huge.json"
	assert_failure 1
	assert_output "$BATS_TEST_TMPDIR/huge.json: nestbox-guests: larger than 262144 bytes
$BATS_TEST_TMPDIR/huge.json: rejected, no guest would run"
	head -c 262144 /dev/zero | tr '\0' ' ' >"$BATS_TEST_TMPDIR/edge.json"
	run nestbox check "$BATS_TEST_TMPDIR/edge.json"
	assert_success
	assert_output "$BATS_TEST_TMPDIR/edge.json: 0 guests valid, 0 invalid"
}

@test "standard input, a single guest, an empty document" {
	run bash -c 'echo "{\"version\": 1, \"guests\": [{\"name\": \"a\", \"memory\": \"1G\", \"disks\": [{\"source\": \"state:a\"}]}]}" |
		exec -a nestbox "$0" check -' "$INIT"
	assert_success
	assert_output "-: 1 guest valid, 0 invalid"
	: >"$BATS_TEST_TMPDIR/empty.json"
	run nestbox check "$BATS_TEST_TMPDIR/empty.json"
	assert_success
	assert_output "$BATS_TEST_TMPDIR/empty.json: 0 guests valid, 0 invalid"
}

@test "usage errors: exit 2" {
	run nestbox check
	[ "$status" -eq 2 ]
	assert_output --partial "usage: nestbox check [--network FILE] [--alias-ranges CIDR,...] FILE"
	run nestbox check --netwrok x "$GOLDEN/valid.json"
	[ "$status" -eq 2 ]
	run nestbox check --network
	[ "$status" -eq 2 ]
	run nestbox check "$GOLDEN/valid.json" extra
	[ "$status" -eq 2 ]
	run nestbox check "$BATS_TEST_TMPDIR/missing.json"
	[ "$status" -eq 2 ]
	assert_output "nestbox check: $BATS_TEST_TMPDIR/missing.json: No such file or directory"
	# not called as nestbox: the init's own usage, no check
	run "$INIT" check "$GOLDEN/valid.json"
	[ "$status" -eq 2 ]
}

@test "the image has /usr/bin/nestbox as a link to the init" {
	[ "$(readlink "$TOP/overlay/usr/bin/nestbox")" = ../../init ]
}

# PID 1 checks static IPs against the L2 network and alias IPs against the
# L1's alias IP ranges (guest/verdict.c); check runs the same function.
@test "the network cross-check: the default network, --network, --alias-ranges" {
	local f=$BATS_TEST_TMPDIR/g.json n=$BATS_TEST_TMPDIR/net.json
	cat >"$f" <<-'EOF'
	{"version": 1, "guests": [
	  {"name": "out", "memory": "1G", "disks": [{"source": "state:a"}], "ip": "10.0.0.5"},
	  {"name": "bridge", "memory": "1G", "disks": [{"source": "state:b"}], "ip": "192.168.122.1"},
	  {"name": "fine", "memory": "1G", "disks": [{"source": "state:c"}], "ip": "192.168.122.9",
	   "alias-ip": "10.128.16.5"},
	  {"name": "fwd", "memory": "1G", "disks": [{"source": "state:d"}],
	   "forwards": [{"port": 53, "proto": "udp", "alias-ip": "10.128.0.20"}]}
	]}
	EOF
	run nestbox check "$f"
	assert_failure 1
	assert_output "$f: guest out: ip: 10.0.0.5 is outside the L2 subnet 192.168.122.0/24
$f: guest bridge: ip: 192.168.122.1 is the bridge's address
$f: 2 guests valid, 2 invalid"
	# another subnet: now "fine" is outside it, "out" is the bridge
	echo '{"subnet": "10.0.0.5/24"}' >"$n"
	run nestbox check --network "$n" "$f"
	assert_failure 1
	assert_line --index 0 "$f: guest out: ip: 10.0.0.5 is the bridge's address"
	assert_line --index 1 "$f: guest bridge: ip: 192.168.122.1 is outside the L2 subnet 10.0.0.0/24"
	assert_line --index 2 "$f: guest fine: ip: 192.168.122.9 is outside the L2 subnet 10.0.0.0/24"
	# the alias ranges: fwd's forwarded alias IP is not in them
	run nestbox check --alias-ranges 10.128.16.0/28 "$f"
	assert_failure 1
	assert_line --index 2 "$f: guest fwd: forwards[0].alias-ip: 10.128.0.20 is not in the L1's alias IP ranges (10.128.16.0/28)"
	assert_line --index 3 "$f: 1 guest valid, 3 invalid"
	run nestbox check --alias-ranges 10.128.16.0/28,10.128.0.16/28 --network "$n" "$f"
	assert_line "$f: 1 guest valid, 3 invalid"
	# a broken network document or range list is a usage error, with its reason
	echo '{"subnet": "10.0.0.5/33"}' >"$n"
	run nestbox check --network "$n" "$f"
	[ "$status" -eq 2 ]
	assert_output --partial "nestbox check: $n: nestbox-network: subnet:"
	run nestbox check --alias-ranges 10.128.16.0/99 "$f"
	[ "$status" -eq 2 ]
	assert_output 'nestbox check: --alias-ranges: "10.128.16.0/99" is not a list of a.b.c.d/n'
}

@test "strict JSON: a NUL, a control character, bytes after the document, deep nesting" {
	local f=$BATS_TEST_TMPDIR/nul.json
	printf '{"version": 1, "guests": []}\0' >"$f"
	run nestbox check "$f"
	assert_failure 1
	assert_output "$f: nestbox-guests: not valid JSON (a control character at byte 28)
$f: rejected, no guest would run"
	printf '{"version": 1, "guests": [{"name": "a\0b"}]}' >"$f"
	run nestbox check "$f"
	assert_line --index 0 "$f: nestbox-guests: not valid JSON (a control character in a string at byte 37)"
	printf '{"version": 1, "guests": []} {}' >"$f"
	run nestbox check "$f"
	assert_line --index 0 "$f: nestbox-guests: not valid JSON (more after the document at byte 29)"
	{ printf '{"version": 1, "guests": [], "x": '; printf '[%.0s' $(seq 20); } >"$f"
	run nestbox check "$f"
	assert_line --index 0 "$f: nestbox-guests: not valid JSON (nested deeper than 16 at byte 49)"
}

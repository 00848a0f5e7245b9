# The metadata client of PID 1, end to end: the image boots as the L1 VM in
# the fake L0, takes GCE's lease, and talks to the metadata emulator. Checked
# from outside: the serial console and the emulator's request log, guest
# attributes and status.
load helpers
load lib/l0
load lib/vm

setup() {
	[ -f "$OUT/nestbox.img" ] || { echo "out/nestbox.img is missing: run make first"; return 1; }
	l0_start "$TOP/tests/fixtures/metadata/basic.json"
}

teardown() {
	vm_kill
	l0_stop
}

boot() { VM_NETNS=$L0_NS vm_start "$OUT/nestbox.img" $(l0_vm_net); }

# requests FILTER: the emulator's request log, one line per request, as
# "METHOD PATH?QUERY STATUS FLAVOR" (python: jq is not a host package).
requests() {
	l0_metadata GET /requests | python3 -c '
import json, sys
for r in json.load(sys.stdin):
    q = "?" + r["query"] if r.get("query") else ""
    print(r["method"], r["path"] + q, r["status"], r.get("headers", {}).get("Metadata-Flavor", "-"))'
}

# poll TIMEOUT COMMAND...: until COMMAND succeeds, or fail after TIMEOUT s.
poll() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -lt "$deadline" ] || { echo "timed out: $*"; vm_tail; return 1; }
		sleep 0.2
	done
}

waiting() { curl -sS --unix-socket "$L0_CONTROL" http://l0/status | grep -q '"waiters": *[1-9]'; }

changes() { grep -c 'nestbox: metadata: attributes changed' "$VM_CONSOLE" || true; }

@test "the L1 takes its lease and reads instance/hostname with Metadata-Flavor (issue 4's smoke test)" {
	boot
	vm_wait 'nestbox: nestbox .* starting' 120
	start=$(vm_elapsed)
	vm_wait 'nestbox: hostname: nestbox-1[^.]' 120
	hostname=$(vm_elapsed)
	first=$(grep -oE 'metadata: first reply [0-9]+ ms' "$VM_CONSOLE" | grep -oE '[0-9]+' || true)
	echo "# PID 1 start after ${start} s, hostname after ${hostname} s; first reply at ${first:-?} ms since boot (TCG)" >&3
	run requests
	assert_success
	assert_line --regexp '^GET /computeMetadata/v1/instance/hostname 200 Google$'
	# every request from the VM carried the header, and none was refused
	refute_line --regexp ' (403|400) '
	refute_line --regexp ' -$'
	# and the watch came up: it waits in the emulator (logged when it ends)
	vm_wait 'nestbox: metadata: attributes changed \(etag [0-9a-f]{16}\)' 30
	poll 20 waiting
}

@test "503 for the first 5 requests at boot: the client backs off and converges" {
	l0_metadata POST /faults '{"status":503,"count":5}'
	boot
	vm_wait 'nestbox: hostname: nestbox-1[^.]' 180
	vm_wait 'nestbox: metadata: attributes changed' 30
	run requests
	[ "$(grep -c ' 503 Google$' <<<"$output")" -eq 5 ] || { echo "$output"; false; }
	assert_line --regexp '^GET /computeMetadata/v1/instance/hostname 200 Google$'
	# one line per distinct error, not one per retry
	[ "$(grep -c 'server busy (status 503)' "$VM_CONSOLE")" -le 5 ]
	run grep -E 'nestbox: metadata: .*: answered after [0-9]+ attempts' "$VM_CONSOLE"
	assert_success
}

@test "a change of an instance attribute reaches the watch within seconds" {
	boot
	vm_wait 'nestbox: metadata: attributes changed' 180
	# the watch is waiting in the emulator
	poll 20 waiting
	before=$(changes)
	t0=$(date +%s.%N)
	l0_metadata PATCH /document '{"instance":{"attributes":{"nestbox-e2e":"changed"}}}' >/dev/null
	poll 5 sh -c "[ \$(grep -c 'nestbox: metadata: attributes changed' '$VM_CONSOLE') -gt $before ]"
	echo "# PATCH to console line: $(echo "$(date +%s.%N) $t0" | awk '{ printf "%.2f", $1 - $2 }') s (TCG)" >&3
}

@test "with enable-guest-attributes TRUE the L1 writes nestbox/status" {
	l0_metadata PATCH /document '{"instance":{"attributes":{"enable-guest-attributes":"TRUE"}}}' >/dev/null
	boot
	vm_wait 'nestbox: hostname: nestbox-1[^.]' 180
	poll 30 sh -c "curl -sS --unix-socket '$L0_CONTROL' http://l0/guest-attributes | grep -q '\"status\"'"
	run sh -c "curl -sS --unix-socket '$L0_CONTROL' http://l0/guest-attributes | python3 -c '
import json, sys
s = json.loads(json.load(sys.stdin)[\"nestbox\"][\"status\"])
print(s[\"metadata\"][\"hostname\"], s[\"kvm\"][\"available\"], s[\"network\"][\"address\"], s[\"network\"][\"mtu\"])'"
	assert_success
	# the status as the L1 sees itself: KVM under -cpu max, GCE's /32 and MTU
	assert_output "nestbox-1 True 10.128.0.2/32 1460"
	run requests
	assert_line --regexp '^PUT /computeMetadata/v1/instance/guest-attributes/nestbox/status 200 Google$'
	# GCE's limit: no more than 3 writes at once, 10 a minute
	[ "$(grep -c '^PUT ' <<<"$output")" -le 3 ]
}

@test "the metadata server down at boot (connection refused): the client converges when it is back" {
	l0_metadata POST /faults '{"down":true}' >/dev/null
	boot
	vm_wait 'nestbox: warning: metadata: hostname: no reply: ' 180
	l0_metadata POST /faults '{"down":false}' >/dev/null
	t0=$SECONDS
	vm_wait 'nestbox: hostname: nestbox-1[^.]' 30
	vm_wait 'nestbox: metadata: attributes changed' 30
	echo "# back up to hostname: $((SECONDS - t0)) s (backoff capped at 10 s)" >&3
	# one line per distinct error, however many retries
	[ "$(grep -c 'nestbox: warning: metadata: hostname: no reply' "$VM_CONSOLE")" -eq 1 ]
}

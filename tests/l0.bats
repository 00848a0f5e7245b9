# The fake GCE L0 itself: the lease its DHCP server hands out, its metadata
# server, resolver and outside host, seen from a stand-in for the L1 VM (a
# namespace on the L0's bridge running busybox's udhcpc from the image), and
# its clean removal.
load helpers
load lib/l0

setup() {
	[ -x "$OUT/rootfs/bin/busybox" ] || { echo "out/rootfs is missing: run make first"; return 1; }
	l0_start "$TOP/tests/fixtures/metadata/basic.json"
	# The stand-in VM, where the L1's tap would be.
	VM_NS=${L0_ID}vm
	ip netns add "$VM_NS"
	ip -n "$VM_NS" link set lo up
	ip link add "${L0_ID}v0" netns "$L0_NS" type veth peer name eth0 netns "$VM_NS"
	ip -n "$L0_NS" link set "${L0_ID}v0" master br0 up
	ip -n "$VM_NS" link set eth0 address 42:01:0a:80:00:02 up
}

teardown() {
	_l0_del_ns "$VM_NS"
	l0_stop
}

# lease: take a lease once with udhcpc and print the options it got.
lease() {
	cat >"$BATS_TEST_TMPDIR/script" <<-'EOT'
	#!/bin/sh
	[ "$1" = bound ] && env | grep -E '^(ip|subnet|router|staticroutes|mtu|dns|ntpsrv|search|lease|domain|serverid)=' | sort
	exit 0
	EOT
	chmod +x "$BATS_TEST_TMPDIR/script"
	ip netns exec "$VM_NS" timeout 20 "$OUT/rootfs/bin/busybox" udhcpc -i eth0 -n -q -f -t 5 -T 1 \
		-O staticroutes -O mtu -O ntpsrv -O search -s "$BATS_TEST_TMPDIR/script"
}

@test "the L0's DHCP server hands out GCE's lease" {
	run lease
	assert_success
	assert_line "ip=$L0_VM_IP"
	assert_line "subnet=255.255.255.255"
	assert_line "router=$L0_SUBNET_GW"
	assert_line "staticroutes=$L0_SUBNET_GW/32 0.0.0.0 0.0.0.0/0 $L0_SUBNET_GW"
	assert_line "mtu=$L0_MTU"
	assert_line "dns=$L0_METADATA_IP"
	assert_line "ntpsrv=$L0_METADATA_IP"
	assert_line "search=c.nestbox-test.internal google.internal"
	assert_line "lease=86400"
}

# configure: set the stand-in VM up the way GCE's lease says.
configure() {
	ip -n "$VM_NS" addr add "$L0_VM_IP/32" dev eth0
	ip -n "$VM_NS" link set eth0 mtu "$L0_MTU"
	ip -n "$VM_NS" route add "$L0_SUBNET_GW/32" dev eth0
	ip -n "$VM_NS" route add default via "$L0_SUBNET_GW" dev eth0
}

@test "from the VM: the metadata server, its name, and the outside host" {
	configure
	run ip netns exec "$VM_NS" curl -sS -m 5 -H 'Metadata-Flavor: Google' \
		"http://$L0_METADATA_IP/computeMetadata/v1/instance/hostname"
	assert_success
	assert_output "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["instance"]["hostname"])' \
		"$TOP/tests/fixtures/metadata/basic.json")"
	run ip netns exec "$VM_NS" "$OUT/rootfs/bin/busybox" nslookup metadata.google.internal "$L0_METADATA_IP"
	assert_success
	assert_output --partial "Address: $L0_METADATA_IP"
	run ip netns exec "$VM_NS" curl -sS -m 5 "http://$L0_OUTSIDE_IP/"
	assert_success
	assert_output "outside says hello"
}

@test "the peer VM reaches the VM through the gateway, and the alias range is routed to the VM" {
	configure
	run ip netns exec "$L0_PEER_NS" "$OUT/rootfs/bin/busybox" ping -c 1 -W 5 "$L0_VM_IP"
	assert_success
	run ip -n "$L0_NS" route get 10.128.16.7
	assert_output --partial "via $L0_VM_IP dev br0"
}

@test "an L0 whose test was killed is removed, with its processes" {
	# A test process that makes an L0 and is then killed with SIGKILL.
	L0_DIR=$BATS_TEST_TMPDIR/killed bash -c '
		TOP=$1; BATS_TEST_TMPDIR=$2; . "$TOP/tests/lib/l0.bash"
		l0_start "$TOP/tests/fixtures/metadata/basic.json" >/dev/null || exit 1
		echo "$$" >"$BATS_TEST_TMPDIR/killed.pid"; exec sleep 600' _ "$TOP" "$BATS_TEST_TMPDIR" &
	holder=$!
	for _ in $(seq 100); do [ -s "$BATS_TEST_TMPDIR/killed.pid" ] && break; sleep 0.1; done
	run ip netns list
	assert_output --partial "nb${holder}l0"
	kill -9 "$holder"
	wait "$holder" 2>/dev/null || true
	l0_gc
	run ip netns list
	refute_output --partial "nb${holder}"
	run pgrep -f "$BATS_TEST_TMPDIR/killed/"
	assert_failure
}

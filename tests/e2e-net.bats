# The L1 on the fake GCE L0: KVM under -cpu max (the L1 sees SVM), the
# diagnosis without it, and eth0 configured from GCE's DHCP lease (a /32, the
# gateway through its own route, MTU 1460), checked from the peer VM.
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

@test "eth0 takes GCE's lease, the peer VM reaches the L1, and /dev/kvm is ready" {
	VM_NETNS=$L0_NS vm_start "$OUT/nestbox.img" $(l0_vm_net)
	vm_wait 'nestbox: nestbox .* starting' 120
	start=$(vm_elapsed)
	vm_wait 'nestbox: kvm: /dev/kvm ready \(API 12' 60
	kvm=$(vm_elapsed)
	refute grep -q 'nestbox: warning: kvm: not available' "$VM_CONSOLE"
	vm_wait "nestbox: eth0: $L0_VM_IP/32 gateway $L0_SUBNET_GW mtu $L0_MTU \(lease 86400 s\)" 60
	dhcp=$(vm_elapsed)
	refute grep -qE 'nestbox: (warning: )?eth0: .*(refused|route|address)' "$VM_CONSOLE"
	echo "# PID 1 start after ${start} s; /dev/kvm +$(echo "$kvm $start" | awk '{ printf "%.2f", $1 - $2 }') s; lease applied +$(echo "$dhcp $kvm" | awk '{ printf "%.2f", $1 - $2 }') s (TCG)" >&3

	# The L1 answers from its /32 through the gateway: its default route
	# goes via 10.128.0.1, which it reaches only through the /32 link route.
	run l0_peer "$OUT/rootfs/bin/busybox" ping -c 1 -W 5 "$L0_VM_IP"
	assert_success
	# 1460-byte packets (1432 + 28) pass, and the L0 saw the lease taken
	run l0_peer "$OUT/rootfs/bin/busybox" ping -c 1 -W 5 -s 1432 "$L0_VM_IP"
	assert_success
	grep -q "DHCPACK(br0) $L0_VM_IP 42:01:0a:80:00:02" "$L0_DIR/dnsmasq.log" ||
		{ tail -n 20 "$L0_DIR/dnsmasq.log"; false; }
	vm_wait 'nestbox: ready' 30
	# ntpd runs against the metadata server (the L0 has no NTP: it keeps trying)
	refute grep -qE 'nestbox: (warning: )?ntpd: ' "$VM_CONSOLE"
}

@test "without SVM the L1 says why KVM is missing and how to fix it on GCE, and boots on" {
	# QEMU takes the last -cpu: this one hides SVM from the L1
	VM_NETNS=$L0_NS vm_start "$OUT/nestbox.img" $(l0_vm_net) -cpu max,-svm
	vm_wait 'nestbox: warning: kvm: not available: ' 120
	run grep -aE 'nestbox: (warning: )?kvm: ' "$VM_CONSOLE"
	assert_output --partial 'without SVM'
	assert_output --partial 'licenses/enable-vmx'
	assert_output --partial '--enable-nested-virtualization'
	assert_output --partial 'Haswell'
	assert_output --partial 'not E2 and not AMD'
	refute_output --partial '/dev/kvm ready'
	vm_wait 'nestbox: ready' 60
	vm_wait "nestbox: eth0: $L0_VM_IP/32 gateway $L0_SUBNET_GW mtu $L0_MTU" 60
	run l0_peer "$OUT/rootfs/bin/busybox" ping -c 1 -W 5 "$L0_VM_IP"
	assert_success
}

@test "a renewal keeps the address and the routes, with no gap" {
	# dnsmasq's shortest lease, 2 minutes: udhcpc renews after one
	l0_stop
	L0_LEASE=2m l0_start "$TOP/tests/fixtures/metadata/basic.json"
	VM_NETNS=$L0_NS vm_start "$OUT/nestbox.img" $(l0_vm_net)
	vm_wait "nestbox: eth0: $L0_VM_IP/32 gateway $L0_SUBNET_GW mtu $L0_MTU \(lease 120 s\)" 180
	# ping all through the renewal, at T1 = 60 s after the lease
	# Started as a plain command, not through the l0_peer function: then $!
	# is ping itself (ip netns exec execs it), the kill reaches ping, and
	# the wait returns only once ping has written its last line.
	ip netns exec "$L0_PEER_NS" "$OUT/rootfs/bin/busybox" ping -i 1 -w 90 "$L0_VM_IP" \
		>"$BATS_TEST_TMPDIR/ping" 2>&1 3>&- &
	pinger=$!
	vm_wait 'nestbox: eth0: lease renewed \(lease 120 s\)' 90
	# three more echoes after the renewal, counted as they come back
	n0=$(grep -c 'seq=' "$BATS_TEST_TMPDIR/ping" || true)
	for _ in $(seq 100); do
		[ "$(grep -c 'seq=' "$BATS_TEST_TMPDIR/ping" || true)" -ge $((n0 + 3)) ] && break
		sleep 0.1
	done
	kill "$pinger" 2>/dev/null || true
	wait "$pinger" 2>/dev/null || true
	refute grep -q 'nestbox: eth0: lease gone' "$VM_CONSOLE"
	# every echo before and after the renewal came back
	sent=$(grep -c 'seq=' "$BATS_TEST_TMPDIR/ping" || true)
	seqs=$(grep -oE 'seq=[0-9]+' "$BATS_TEST_TMPDIR/ping" | tail -n 1 | tr -dc 0-9)
	echo "# $sent replies, last seq $seqs" >&3
	[ "$sent" -ge 10 ] && [ "$sent" -eq $((seqs + 1)) ] || { cat "$BATS_TEST_TMPDIR/ping"; false; }
}

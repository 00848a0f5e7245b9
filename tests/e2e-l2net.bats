# The L2 network seen from an L2 guest and from the VPC, end to end on the
# fake GCE L0: the L1 (the image) takes GCE's lease and brings up virbr0,
# dnsmasq and the firewall; a stand-in getty in the L1 starts the L2 test
# guest under KVM on a plain tap in virbr0, so that only the network is under
# test (e2e-guests.bats has PID 1 start guests from metadata). From the
# L2: a lease from dnsmasq, DNS through it, NAT to the outside host, and no
# way to the metadata server. From the peer VM: the L1 answers nothing that
# metadata did not ask for. A live change of nestbox-network is applied.
load helpers
load lib/l0
load lib/vm

# An L2 under KVM in an L1 whose SVM is emulated by TCG sometimes never prints
# a byte (about one run in six here: even SeaBIOS stays silent); that is the
# emulation under the test, not the appliance, so a failed run is retried.
BATS_TEST_RETRIES=2

setup_file() {
	for f in "$OUT/rootfs/init" "$OUT/l2-guest/initramfs.img" "$OUT/pkg/linux/boot/vmlinuz"; do
		[ -e "$f" ] || { echo "$f is missing: run make test"; return 1; }
	done
	local root=$BATS_FILE_TMPDIR/root
	vm_test_root "$root" <<-'SH'
	#!/bin/sh
	# Once: wait for KVM and virbr0, then boot the L2 on a tap in virbr0.
	[ -e /run/l2-started ] && exec sleep 100000
	touch /run/l2-started
	n=0
	until [ -c /dev/kvm ] && ip link show virbr0 2>/dev/null | grep -q UP && [ -s /run/nestbox/dnsmasq.conf ]; do
		[ $n -lt 600 ] || { echo "l1: no virbr0"; exec sleep 100000; }
		sleep 0.1; n=$((n + 1))
	done
	echo "l1: starting the L2"
	qemu-system-x86_64 -L /usr/share/qemu -accel kvm -cpu host -machine pc -m 256 \
		-nodefaults -no-user-config -display none -serial stdio \
		-netdev tap,id=n0,ifname=l2tap,script=no,downscript=no \
		-device virtio-net-pci,netdev=n0,mac=52:54:00:00:00:42,romfile= \
		-kernel /l2/vmlinuz -initrd /l2/initrd \
		-append "console=ttyS0 nbguest.name=l2 nbguest.fetch=http://203.0.113.10/ nbguest.fetch=http://169.254.169.254/computeMetadata/v1/ nbguest.fetch=http://192.168.122.1:9/ nbguest.lookup=metadata.google.internal" &
	n=0
	until ip link show l2tap >/dev/null 2>&1 || [ $n -gt 100 ]; do sleep 0.1; n=$((n + 1)); done
	brctl addif virbr0 l2tap && ip link set l2tap up && echo "l1: l2tap on virbr0"
	wait
	SH
	mkdir -p "$root/l2"
	cp "$OUT/pkg/linux/boot/vmlinuz" "$root/l2/vmlinuz"
	cp "$OUT/l2-guest/initramfs.img" "$root/l2/initrd"
	vm_pack_initramfs "$root" "$BATS_FILE_TMPDIR/initrd.zst"
	truncate -s 1M "$BATS_FILE_TMPDIR/empty.img"
}

setup() {
	l0_start "$TOP/tests/fixtures/metadata/basic.json"
	VM_MEMORY=1536 VM_NETNS=$L0_NS vm_start "$BATS_FILE_TMPDIR/empty.img" \
		-kernel "$OUT/pkg/linux/boot/vmlinuz" -initrd "$BATS_FILE_TMPDIR/initrd.zst" \
		-append "console=ttyS0,38400n8 panic=-1" $(l0_vm_net)
}

teardown() {
	vm_kill
	l0_stop
}

@test "an L2 guest on virbr0: lease, DNS, NAT to the outside, no metadata server, no L1 ports" {
	vm_wait 'l1: l2tap on virbr0' 180
	vm_wait 'nbguest: l2: lease 192\.168\.122\.[0-9]+/24' 120
	vm_wait 'nbguest: l2: fetch http://203\.0\.113\.10/: outside says hello' 60
	vm_wait 'nbguest: l2: fetch http://169\.254\.169\.254/computeMetadata/v1/ failed' 60
	vm_wait 'nbguest: l2: fetch http://192\.168\.122\.1:9/ failed' 60
	vm_wait 'nbguest: l2: lookup metadata\.google\.internal' 60
	run grep -a 'nbguest: l2: lookup metadata.google.internal' "$VM_CONSOLE"
	assert_output --partial '169.254.169.254'
	# The outside host saw the L1's address: the L2 was NATed.
	run cat "$L0_DIR/outside.log"
	assert_output --partial "$L0_VM_IP"
}

@test "the peer VM gets nothing from the L1; a nestbox-network change is applied live" {
	vm_wait 'nestbox: ready' 180
	vm_wait "nestbox: eth0: $L0_VM_IP/32" 60
	vm_wait 'l1: l2tap on virbr0' 180
	# ICMP is allowed; TCP to a port nobody listens on is dropped, not refused.
	run l0_peer "$OUT/rootfs/bin/busybox" ping -c 1 -W 5 "$L0_VM_IP"
	assert_success
	run l0_peer timeout 3 bash -c "exec 3<>/dev/tcp/$L0_VM_IP/5555"
	assert_equal "$status" 124
	l0_metadata PATCH /document \
		'{"instance":{"attributes":{"nestbox-network":"{\"subnet\":\"10.20.0.0/24\"}"}}}'
	vm_wait 'virbr0.*10\.20\.0\.1/24' 60
}

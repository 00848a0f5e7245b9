# Nested virtualization end to end: inside the L1 (the image, booted under TCG
# with -cpu max, so it sees SVM and has /dev/kvm), the image's own static QEMU
# boots the L2 test guest under KVM from a second disk and the guest's marker
# reaches the L1's console. The L2 is started by a stand-in getty, so that
# only the image's QEMU and KVM are under test (e2e-guests.bats has PID 1
# start guests from metadata): the test builds an initramfs of out/rootfs
# whose /sbin/getty is a script, and boots it directly.
load helpers
load lib/vm

# An L2 under KVM in an L1 whose SVM is emulated by TCG sometimes never prints
# a byte (about one run in six here: even SeaBIOS stays silent); that is the
# emulation under the test, not the appliance, so a failed run is retried.
BATS_TEST_RETRIES=2

setup_file() {
	for f in "$OUT/rootfs/init" "$OUT/l2-guest.img" "$OUT/pkg/linux/boot/vmlinuz"; do
		[ -e "$f" ] || { echo "$f is missing: run make test"; return 1; }
	done
	local root=$BATS_FILE_TMPDIR/root
	vm_test_root "$root" <<-'SH'
	#!/bin/sh
	# Run once: wait for /dev/kvm, then boot the L2 from /dev/sdb under KVM.
	[ -e /run/l2-started ] && exec sleep 100000
	touch /run/l2-started
	n=0
	while [ ! -c /dev/kvm ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
	while [ ! -b /dev/sdb ] && [ $n -lt 200 ]; do sleep 0.1; n=$((n + 1)); done
	echo "l1: starting the L2 with $(ls /dev/kvm /dev/sdb)"
	exec qemu-system-x86_64 -L /usr/share/qemu -accel kvm -cpu host -machine pc -m 256 \
		-nodefaults -no-user-config -display none -serial stdio \
		-drive file=/dev/sdb,format=raw,if=virtio,readonly=on
	SH
	vm_pack_initramfs "$root" "$BATS_FILE_TMPDIR/initrd.zst"
	truncate -s 1M "$BATS_FILE_TMPDIR/empty.img"
}

teardown() { vm_kill; }

@test "the L1 runs the L2 test guest under KVM with the image's QEMU" {
	# sda: an empty disk; sdb: the L2 test guest, as a PersistentDisk would be.
	VM_MEMORY=1536 vm_start "$BATS_FILE_TMPDIR/empty.img" -kernel "$OUT/pkg/linux/boot/vmlinuz" \
		-initrd "$BATS_FILE_TMPDIR/initrd.zst" -append "console=ttyS0,38400n8 panic=-1" \
		-drive "file=$OUT/l2-guest.img,format=raw,if=none,id=l2disk,snapshot=on" \
		-device scsi-hd,drive=l2disk,bus=scsi.0
	vm_wait 'nestbox: kvm: /dev/kvm ready' 120
	vm_wait 'l1: starting the L2' 60
	start=$SECONDS
	vm_wait 'nbguest: l2-test: booted' 180
	echo "# L2 marker $((SECONDS - start)) s after its QEMU started (L2 under KVM in the L1 under TCG)" >&3
	vm_wait 'nbguest: l2-test: ready' 120
	run grep -a 'KVM: entry failed\|kvm run failed\|Kernel panic' "$VM_CONSOLE"
	assert_failure
}

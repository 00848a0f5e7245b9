# PID 1 (init/): the binary on the host, then booted under QEMU from an
# initramfs made of out/rootfs with out/init/init as /init, kernel booted
# directly. A stand-in getty, driven by nbtest= on the kernel command line
# (the kernel hands it to init's environment), plays the user.
load helpers
load lib/vm

INIT=$OUT/init/init

setup_file() {
	[ -x "$INIT" ] && [ -d "$OUT/rootfs" ] && [ -f "$OUT/pkg/linux/boot/vmlinuz" ] &&
		[ -x "$VM_QEMU" ] && command -v cpio >/dev/null || return 0
	local root=$BATS_FILE_TMPDIR/root
	vm_test_root "$root" <<-'SH'
	#!/bin/sh
	n=$(cat /run/getty-starts 2>/dev/null || echo 0)
	n=$((n + 1))
	echo $n >/run/getty-starts
	echo "fake getty start $n: $*"
	case $nbtest in
	poweroff)
		(trap '' TERM HUP; exec sleep 1000) &
		sh -c 'sleep 1 & sleep 1 &'
		sleep 2
		echo "zombies: $(cat /proc/[0-9]*/stat | grep -c ') Z ')"
		poweroff ;;
	crash-then-reboot)
		[ "$n" -lt 3 ] && exit 3
		reboot ;;
	*)
		exec /bin/busybox getty "$@" ;;
	esac
	exec sleep 1000
	SH
	cp "$INIT" "$root/init"
	vm_pack_initramfs "$root" "$BATS_FILE_TMPDIR/initrd.zst"
	truncate -s 1M "$BATS_FILE_TMPDIR/empty.img"
}

teardown() {
	vm_kill
}

# boot NBTEST: direct kernel boot of the test initramfs
boot() {
	[ -f "$BATS_FILE_TMPDIR/initrd.zst" ] || skip "needs out/init/init, out/rootfs, the kernel and qemu"
	vm_start "$BATS_FILE_TMPDIR/empty.img" -kernel "$OUT/pkg/linux/boot/vmlinuz" \
		-initrd "$BATS_FILE_TMPDIR/initrd.zst" \
		-append "console=ttyS0,38400n8 panic=-1 nbtest=$1"
}

@test "init --version prints the version and its libraries, on the host" {
	run "$INIT" --version
	assert_success
	assert_line --index 0 --regexp '^nestbox [A-Za-z0-9.+~-]+$'
	# The libraries PID 1 links: libcurl over Mbed TLS, and cJSON.
	assert_line --index 1 --regexp '^libcurl/8\.14\.[0-9]+ mbedTLS/3\.6\.[0-9]+ .*cJSON/1\.7\.18$'
}

@test "init refuses to run as a process other than PID 1" {
	run "$INIT"
	assert_failure 2
	assert_output --partial 'usage: init [--version]'
	run "$INIT" --bogus
	assert_failure 2
}

@test "init is linked statically" {
	command -v readelf >/dev/null || skip "no readelf"
	run readelf -l "$INIT"
	assert_success
	refute_output --partial 'INTERP'
}

@test "boot: mounts, modules, power key, getty; the power button powers off" {
	boot none
	vm_wait '^nestbox: ready' 120
	run grep -a '^nestbox:' "$VM_CONSOLE"
	assert_line --regexp '^nestbox: nestbox [^ ]+ starting \(kernel [^)]+\)'
	assert_line --regexp '^nestbox: modules: [0-9]+ loaded, [0-9]+ built in, 1 skipped, 0 failed'
	assert_line --partial 'nestbox: modules: skipped kvm_intel'
	assert_line --regexp '^nestbox: input: power key on /dev/input/event[0-9]+ \(Power Button\)'
	vm_wait 'login:' 30
	vm_qmp system_powerdown
	# after the login prompt, so not at the start of a line
	vm_wait 'nestbox: shutdown: powering off \(power button\)' 10
	vm_wait '^nestbox: shutdown: done' 20
	vm_wait_exit 20
	run grep -a -c '^nestbox: warning: shutdown: unmount' "$VM_CONSOLE"
	assert_output 0
}

@test "boot: busybox poweroff, orphans reaped, a process that ignores SIGTERM is killed" {
	boot poweroff
	vm_wait '^zombies: ' 120
	run grep -a '^zombies: ' "$VM_CONSOLE"
	assert_output --regexp $'^zombies: 0\r?$'
	vm_wait '^nestbox: shutdown: powering off \(SIGUSR2\)' 10
	vm_wait '^nestbox: shutdown: killing the remaining processes' 10
	vm_wait '^nestbox: shutdown: done' 20
	vm_wait_exit 20
}

@test "boot: a crashing getty is restarted with a growing delay; reboot reboots" {
	boot crash-then-reboot
	vm_wait '^nestbox: getty: exited with status 3, restarting in 0\.[0-9]s' 120
	vm_wait '^nestbox: getty: exited with status 3, restarting in 1\.[0-9]s' 10
	vm_wait '^fake getty start 3' 10
	vm_wait '^nestbox: shutdown: rebooting \(reboot requested\)' 10
	vm_wait '^nestbox: shutdown: done' 20
	vm_wait '^\[ *[0-9.]+\] reboot: Restarting system' 10
	vm_wait_exit 20
}

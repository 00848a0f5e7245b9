# Booting images under QEMU for tests: start, read the serial console, talk
# QMP, wait for exit. Every wait has a timeout and shows the console's tail
# when it runs out. Uses $BATS_TEST_TMPDIR (or $VM_DIR) for its files.

# vm_start IMAGE [QEMU-ARG...]: boot IMAGE from its disk, as GCE does: SeaBIOS,
# an i440fx machine, the disk on virtio-scsi. Writes go to a temporary
# snapshot, never to IMAGE (VM_SNAPSHOT=off: to IMAGE itself). The L1 sees
# SVM through TCG's -cpu max. With
# VM_NETNS set, QEMU runs in that network namespace (to open the L0's tap).
#
# The QEMU is the image's own static QEMU 10 with the image's SeaBIOS
# (VM_QEMU, VM_FIRMWARE override): Debian 12's QEMU 7.2 crashes the 6.12
# kernel under TCG in about one boot of six (double faults, oopses in
# text_poke; measured here), QEMU 10 did not in any of our runs.
VM_QEMU=${VM_QEMU:-$OUT/rootfs/usr/bin/qemu-system-x86_64}
VM_FIRMWARE=${VM_FIRMWARE:-$OUT/rootfs/usr/share/qemu}
vm_start() {
	local image=$1
	shift
	VM_DIR=${VM_DIR:-$BATS_TEST_TMPDIR/vm}
	mkdir -p "$VM_DIR"
	VM_CONSOLE=$VM_DIR/console.log
	VM_QMP=$VM_DIR/qmp.sock
	VM_SERIAL=$VM_DIR/serial.sock
	: >"$VM_CONSOLE"
	${VM_NETNS:+ip netns exec "$VM_NETNS"} "$VM_QEMU" -L "$VM_FIRMWARE" -machine pc -accel tcg -cpu max -m "${VM_MEMORY:-1024}" -smp 1 \
		-nodefaults -no-user-config -display none -no-reboot \
		-device virtio-scsi-pci,id=scsi \
		-drive "file=$image,format=raw,if=none,id=disk0,snapshot=${VM_SNAPSHOT:-on}" \
		-device scsi-hd,drive=disk0,bus=scsi.0 \
		-chardev "socket,id=serial0,path=$VM_SERIAL,server=on,wait=off,logfile=$VM_CONSOLE" \
		-serial chardev:serial0 \
		-qmp "unix:$VM_QMP,server=on,wait=off" \
		"$@" >"$VM_DIR/qemu.log" 2>&1 &
	VM_PID=$!
	VM_START=$(date +%s.%N)
}

# vm_elapsed: seconds since vm_start, with two decimals.
vm_elapsed() { echo "$(date +%s.%N) $VM_START" | awk '{ printf "%.2f", $1 - $2 }'; }

# vm_tail: the console's last lines, for failure messages.
vm_tail() {
	echo "--- last lines of the console ($VM_CONSOLE) ---"
	tail -n "${1:-30}" "$VM_CONSOLE" | tr -d '\r'
	echo "--- qemu ---"
	tail -n 5 "$VM_DIR/qemu.log"
}

# vm_wait PATTERN TIMEOUT: wait until the console has a line matching the
# extended regular expression PATTERN; fail after TIMEOUT seconds, or at once
# if QEMU is gone.
vm_wait() {
	local pattern=$1 deadline=$((SECONDS + $2))
	while ! grep -qE -- "$pattern" "$VM_CONSOLE"; do
		if ! kill -0 "$VM_PID" 2>/dev/null; then
			grep -qE -- "$pattern" "$VM_CONSOLE" && return 0
			echo "QEMU exited before the console showed: $pattern"
			vm_tail
			return 1
		fi
		if [ $SECONDS -ge "$deadline" ]; then
			echo "timed out after $2 s waiting for the console to show: $pattern"
			vm_tail
			return 1
		fi
		sleep 0.2
	done
}

# vm_type TEXT: type TEXT on the serial console (printf escapes: \\r is Enter).
vm_type() { printf "$1" | socat -t 1 - "UNIX-CONNECT:$VM_SERIAL" >/dev/null; }

# vm_qmp COMMAND [ARGUMENTS-JSON]: run a QMP command on the VM's QEMU.
vm_qmp() { "$TOP/tests/lib/qmp" "$VM_QMP" "$@"; }

# vm_wait_exit TIMEOUT: wait until QEMU exits; fail after TIMEOUT seconds.
vm_wait_exit() {
	local deadline=$((SECONDS + $1))
	while kill -0 "$VM_PID" 2>/dev/null; do
		if [ $SECONDS -ge "$deadline" ]; then
			echo "QEMU still running after $1 s"
			vm_tail
			return 1
		fi
		sleep 0.2
	done
}

# vm_kill: stop QEMU for good (teardown).
vm_kill() {
	[ -n "${VM_PID:-}" ] || return 0
	kill "$VM_PID" 2>/dev/null || true
	wait "$VM_PID" 2>/dev/null || true
	VM_PID=
}

# vm_test_root DIR: a copy of out/rootfs in DIR whose /sbin/getty is the
# script on standard input. PID 1 starts the getty once it is ready, so the
# script plays the user (or starts what PID 1 does not start yet).
vm_test_root() {
	cp -a "$OUT/rootfs" "$1"
	rm -f "$1/sbin/getty"
	cat >"$1/sbin/getty"
	chmod 0755 "$1/sbin/getty"
}

# vm_pack_initramfs DIR OUTPUT: DIR as a zstd cpio for direct kernel boot
# (-kernel/-initrd), quickly: tests need no reproducibility here.
vm_pack_initramfs() {
	(cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | zstd -q -1) >"$2"
}

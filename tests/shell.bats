# nestbox shell on the L1's second serial port, ttyS1 (GCE's port 2, which
# `gcloud compute connect-to-serial-port --port 2` reaches): PID 1 runs it
# when a UART is there, it answers the control commands and nothing else,
# and it comes back after exit. The L1 boots its own PID 1 directly, with a
# passive getty on ttyS0 and no network: the control socket answers anyway.
load helpers
load lib/vm

setup_file() {
	for f in "$OUT/rootfs/init" "$OUT/pkg/linux/boot/vmlinuz"; do
		[ -e "$f" ] || { echo "$f is missing: run make"; return 1; }
	done
	local root=$BATS_FILE_TMPDIR/root
	vm_test_root "$root" <<-'SH'
	#!/bin/sh
	exec sleep 100000
	SH
	vm_pack_initramfs "$root" "$BATS_FILE_TMPDIR/initrd.zst"
	truncate -s 1M "$BATS_FILE_TMPDIR/empty.img"
}

teardown() { vm_kill; }

# boot [QEMU-ARG...]: the L1, booted directly, until PID 1 is ready.
boot() {
	vm_start "$BATS_FILE_TMPDIR/empty.img" \
		-kernel "$OUT/pkg/linux/boot/vmlinuz" -initrd "$BATS_FILE_TMPDIR/initrd.zst" \
		-append "console=ttyS0,38400n8 panic=-1" "$@"
	vm_wait 'nestbox: ready' 240
}

# The second serial port, at S1_SOCK, printing to S1_LOG: after vm_start's
# own -serial, so it is ttyS1.
serial1() {
	echo -chardev "socket,id=serial1,path=$S1_SOCK,server=on,wait=off,logfile=$S1_LOG" \
		-serial chardev:serial1
}

# s1_type TEXT: type TEXT on ttyS1 (printf escapes: \\r is Enter).
s1_type() { printf "$1" | socat -t 1 - "UNIX-CONNECT:$S1_SOCK" >/dev/null; }

# s1_wait PATTERN TIMEOUT: vm_wait on what ttyS1 printed.
s1_wait() { VM_CONSOLE=$S1_LOG vm_wait "$@"; }

# s1_wait_count PATTERN N TIMEOUT: until ttyS1 printed N lines matching PATTERN.
s1_wait_count() {
	local deadline=$((SECONDS + $3))
	until [ "$(tr -d '\r' <"$S1_LOG" | grep -acE -- "$1")" -ge "$2" ]; do
		if [ $SECONDS -ge "$deadline" ]; then
			echo "timed out after $3 s waiting for $2 lines on ttyS1 matching: $1"
			VM_CONSOLE=$S1_LOG vm_tail
			return 1
		fi
		sleep 0.5
	done
}

@test "nestbox shell on ttyS1: the control commands, nothing else, and back after exit" {
	VM_DIR=$BATS_TEST_TMPDIR/vm
	S1_SOCK=$VM_DIR/serial1.sock S1_LOG=$VM_DIR/serial1.log
	mkdir -p "$VM_DIR"
	# shellcheck disable=SC2046
	boot $(serial1)
	s1_wait 'nestbox [^ ]+: type help; this is not a shell' 60
	s1_wait 'nestbox> ' 10

	s1_type 'help\r'
	s1_wait '^  exit +end the session' 30
	s1_type 'list\r'
	s1_wait '^NAME +STATE +IP +RESTARTS' 30
	s1_type 'status nosuch\r'
	s1_wait '^error: no guest named nosuch' 30
	s1_type 'rm -rf /\r'
	s1_wait '^unknown command: rm; type help' 30
	s1_type 'logs\r'
	s1_wait '^error: logs needs a guest name' 30
	# nothing ran but the commands: no rm, no shell
	refute grep -aqE '^rm: |^/bin/sh|^[^ ]*# ' "$S1_LOG"

	# exit ends it; PID 1 starts it again
	s1_type 'exit\r'
	s1_wait_count 'type help; this is not a shell' 2 60
	vm_wait 'nestbox: shell: exited with status 0, restarting' 10
	s1_type 'list\r'
	s1_wait_count '^NAME +STATE +IP' 2 30
	refute grep -q 'no UART at ttyS1' "$VM_CONSOLE"
}

@test "without a second serial port there is no nestbox shell, and PID 1 says so once" {
	boot
	run grep -c 'nestbox: shell: no UART at ttyS1, no nestbox shell' "$VM_CONSOLE"
	assert_output 1
	refute grep -q 'nestbox: shell: exited' "$VM_CONSOLE"
}

# L2 guests declared in metadata, end to end on the fake GCE L0: the L1 runs
# the image's own PID 1 (booted directly, with a scripted getty that plays
# the user on the L1's console), reads nestbox-guests from the emulator,
# downloads the L2 test guest's kernel and initrd from the "outside" host
# (sha256-checked), and runs it under KVM on virbr0. Checked from the L1,
# from the L2 itself (its console is mirrored), from the peer VM, and in
# the emulator's guest attributes; then live changes, a crash, a graceful
# stop of the L1 and the persistence of an overlay across it.
load helpers
load lib/l0
load lib/vm

# An L2 under KVM in an L1 whose SVM is emulated by TCG sometimes never prints
# a byte (see e2e-l2net.bats); a failed run is retried.
BATS_TEST_RETRIES=2

setup_file() {
	for f in "$OUT/rootfs/init" "$OUT/l2-guest/initramfs.img" "$OUT/pkg/linux/boot/vmlinuz" \
		"$OUT/nestbox.img"; do
		[ -e "$f" ] || { echo "$f is missing: run make test"; return 1; }
	done
	local root=$BATS_FILE_TMPDIR/root
	# The user on the L1's console: waits for guest "web" to run, fetches
	# its page from the L1, lists the guests, then kills web's QEMU once.
	vm_test_root "$root" <<-'SH'
	#!/bin/sh
	[ -e /run/l1-user ] && exec sleep 100000
	touch /run/l1-user
	[ -e /run/l1-passive ] && exec sleep 100000
	grep -q nbtest.passive /proc/cmdline && exec sleep 100000
	n=0
	until nestbox status web 2>/dev/null | grep -q '"ip":[[:space:]]*"192.168.122.50"' &&
		nestbox status web | grep -q '"state":[[:space:]]*"running"'; do
		[ $n -lt 1200 ] || { echo "l1: web never ran"; exec sleep 100000; }
		sleep 0.5; n=$((n + 1))
	done
	n=0
	until out=$(wget -q -T 2 -O - http://192.168.122.50:8000/ 2>&1); do
		[ $n -lt 120 ] || break
		sleep 0.5; n=$((n + 1))
	done
	echo "l1: web answers: $out"
	nestbox list | sed 's/^/l1: list: /'
	nestbox status nosuch; echo "l1: status nosuch: exit $?"
	pid=$(nestbox status web | sed -n 's/.*"pid":[[:space:]]*\([0-9]*\).*/\1/p')
	kill -9 "$pid" && echo "l1: killed web's QEMU, pid $pid"
	# guest second (restart: always), once the test has declared it
	n=0
	until nestbox status second 2>/dev/null | grep -q '"state":[[:space:]]*"running"'; do
		[ $n -lt 1200 ] || { echo "l1: second never ran"; exec sleep 100000; }
		sleep 0.5; n=$((n + 1))
	done
	pid=$(nestbox status second | sed -n 's/.*"pid":[[:space:]]*\([0-9]*\).*/\1/p')
	kill -9 "$pid" && echo "l1: killed second's QEMU, pid $pid"
	exec sleep 100000
	SH
	vm_pack_initramfs "$root" "$BATS_FILE_TMPDIR/initrd.zst"
	truncate -s 1M "$BATS_FILE_TMPDIR/empty.img"
}

# www: what the outside host serves: the L2 test guest, a blank disk.
www_fill() {
	cp "$OUT/pkg/linux/boot/vmlinuz" "$L0_DIR/www/vmlinuz"
	cp "$OUT/l2-guest/initramfs.img" "$L0_DIR/www/initrd"
	{ printf 'blank\n'; head -c 1048570 /dev/zero; } >"$L0_DIR/www/blank.img"
	KSUM=$(sha256sum <"$L0_DIR/www/vmlinuz" | cut -d' ' -f1)
	ISUM=$(sha256sum <"$L0_DIR/www/initrd" | cut -d' ' -f1)
	BSUM=$(sha256sum <"$L0_DIR/www/blank.img" | cut -d' ' -f1)
}

# guest NAME EXTRA-JSON CMDLINE-EXTRA: the L2 test guest, from the outside host.
guest() {
	printf '{"name": "%s", "memory": "192M", "kernel": {"source": "http://203.0.113.10/vmlinuz", "sha256": "%s"}, "initrd": {"source": "http://203.0.113.10/initrd", "sha256": "%s"}, "cmdline": "console=ttyS0 panic=-1 nbguest.name=%s %s"%s}' \
		"$1" "${KERNEL_SUM:-$KSUM}" "$ISUM" "$1" "$3" "$2"
}

# declare GUEST-JSON...: nestbox-guests with these guests, set in the emulator.
declare_guests() {
	local list
	list=$(IFS=,; echo "$*")
	python3 -c 'import json,sys; print(json.dumps({"instance": {"attributes": {"nestbox-guests": sys.argv[1], "enable-guest-attributes": "TRUE"}}}))' \
		"{\"version\": 1, \"guests\": [$list]}" >"$BATS_TEST_TMPDIR/patch.json"
	l0_metadata PATCH /document "$(cat "$BATS_TEST_TMPDIR/patch.json")" >/dev/null
}

teardown() {
	vm_kill
	l0_stop
}

count() { grep -acE -- "$1" "$VM_CONSOLE" || true; }

# wait_count PATTERN N TIMEOUT: until the console has N lines matching PATTERN.
wait_count() {
	local deadline=$((SECONDS + $3))
	until [ "$(count "$1")" -ge "$2" ]; do
		if [ $SECONDS -ge "$deadline" ]; then
			echo "timed out after $3 s waiting for $2 lines matching: $1"
			vm_tail
			return 1
		fi
		sleep 0.5
	done
}

@test "guests from metadata: lease, port 8000, NAT, forwards, alias IP, invalid and corrupt guests, a crash, a live add and remove" {
	l0_start "$TOP/tests/fixtures/metadata/basic.json"
	www_fill
	local web bad corrupt
	web=$(guest web ', "ip": "192.168.122.50", "restart": "on-failure", "alias-ip": "10.128.16.5", "forwards": [{"proto": "tcp", "port": 8080, "guest-port": 8000}]' \
		"nbguest.fetch=http://203.0.113.10/ nbguest.fetch=http://169.254.169.254/computeMetadata/v1/")
	bad='{"name": "bad", "memory": "128M", "vcpus": 0, "kernel": {"source": "state:x"}}'
	corrupt=$(KERNEL_SUM=$(printf '0%.0s' $(seq 64)) guest corrupt '' '')
	declare_guests "$web" "$bad" "$corrupt"
	VM_MEMORY=1536 VM_NETNS=$L0_NS vm_start "$BATS_FILE_TMPDIR/empty.img" \
		-kernel "$OUT/pkg/linux/boot/vmlinuz" -initrd "$BATS_FILE_TMPDIR/initrd.zst" \
		-append "console=ttyS0,38400n8 panic=-1" $(l0_vm_net)

	# The invalid guest is named with its field; the others go on.
	vm_wait 'nestbox: warning: guest bad: vcpus: .*\(skipped\)' 240
	vm_wait 'nestbox: guests: plan: start web, start corrupt' 10
	# The corrupt download is refused and reported, and not retried.
	vm_wait 'nestbox-fetch: .*sha256 mismatch' 120
	vm_wait "nestbox: warning: guest corrupt: kernel: http://203.0.113.10/vmlinuz: sha256 mismatch" 30
	vm_wait "nestbox: guest corrupt: failed" 10
	# web: downloaded, started under KVM, its console mirrored.
	vm_wait 'nestbox: guest web: QEMU started \(pid [0-9]+, kvm' 120
	vm_wait '\[guest web\] nbguest: web: lease 192\.168\.122\.50/24' 120
	vm_wait '\[guest web\] nbguest: web: fetch http://203\.0\.113\.10/: outside says hello' 60
	vm_wait '\[guest web\] nbguest: web: fetch http://169\.254\.169\.254/computeMetadata/v1/ failed' 60
	# From the L1: its port 8000, and the nestbox command.
	vm_wait 'l1: web answers: hello from web' 120
	vm_wait 'l1: list: web +running +192\.168\.122\.50 ' 10
	vm_wait 'l1: list: corrupt +failed ' 10
	vm_wait 'l1: status nosuch: exit 1' 10
	# NAT: the outside host saw the L1's address.
	run cat "$L0_DIR/outside.log"
	assert_output --partial "$L0_VM_IP"
	# The crash: on-failure restarts it, counted.
	vm_wait "l1: killed web's QEMU" 30
	vm_wait 'nestbox: guest web: restart 1 in' 30
	wait_count 'nestbox: guest web: running' 2 60
	[ "$(count 'nestbox: guest web: QEMU started')" -eq 2 ]
	wait_count '\[guest web\] nbguest: web: serving on port 8000' 2 180
	# From the peer VM: the forward on the L1's address, and the alias IP.
	# The guest says it serves just before its listener is up: asked until
	# it answers (20 s at most), not after a guessed pause.
	local n
	for n in $(seq 20); do
		l0_peer curl -sS -m 5 "http://$L0_VM_IP:8080/" 2>/dev/null | grep -qx 'hello from web' && break
		sleep 1
	done
	run l0_peer curl -sS -m 10 "http://$L0_VM_IP:8080/"
	assert_output 'hello from web'
	run l0_peer curl -sS -m 10 "http://10.128.16.5:8000/"
	assert_output 'hello from web'
	# The guest attribute, from the L0's side. All attributes share GCE's
	# 10 writes a minute, so the latest value can be a minute behind.
	for n in $(seq 120); do
		l0_metadata GET /guest-attributes | grep -qF '\"restarts\":1' && break
		sleep 1
	done
	run l0_metadata GET /guest-attributes
	assert_output --partial 'guest-web'
	assert_output --partial '\"restarts\":1'

	# A second guest, live: web is left alone.
	declare_guests "$web" "$(guest second ', "restart": "always"' '')"
	vm_wait 'nestbox: guests: plan: stop corrupt, keep web, start second' 60
	# restart: always brings it back after a kill, counted
	vm_wait "l1: killed second's QEMU" 180
	vm_wait 'nestbox: guest second: restart 1 in .*\(restart: always\)' 30
	vm_wait '\[guest second\] nbguest: second: ready' 240
	[ "$(count 'nestbox: guest web: QEMU started')" -eq 2 ]
	# And removed again: powered down gracefully.
	declare_guests "$web"
	vm_wait 'nestbox: guests: plan: stop second, keep web' 60
	vm_wait 'nestbox: guest second: system_powerdown' 10
	vm_wait '\[guest second\] nbguest: second: powering off' 60
	vm_wait 'nestbox: guest second: removed' 30
	[ "$(count 'nestbox: guest web: QEMU started')" -eq 2 ]
}

@test "the L1's stop powers both guests down in time; an overlay survives it" {
	l0_start "$TOP/tests/fixtures/metadata/basic.json"
	www_fill
	local mark=persisted-$RANDOM web
	web=$(guest web ', "restart": "always", "disks": [{"source": "http://203.0.113.10/blank.img", "sha256": "'"$BSUM"'", "overlay": true}]' \
		"nbguest.write=$mark")
	declare_guests "$web" "$(guest second '' '')"
	# A persistent disk for the L1: the image's own, with its state partition,
	# on a disk of 2 GiB, as when a user asks GCE for a bigger boot disk.
	cp --sparse=always "$OUT/nestbox.img" "$BATS_TEST_TMPDIR/l1.raw"
	truncate -s 2G "$BATS_TEST_TMPDIR/l1.raw"
	VM_SNAPSHOT=off VM_MEMORY=1536 VM_NETNS=$L0_NS vm_start "$BATS_TEST_TMPDIR/l1.raw" \
		-kernel "$OUT/pkg/linux/boot/vmlinuz" -initrd "$BATS_FILE_TMPDIR/initrd.zst" \
		-append "console=ttyS0,38400n8 panic=-1 nbtest.passive" $(l0_vm_net)
	# the first boot grows the state partition and its file system to the end
	vm_wait 'nestbox: state: partition .*2 grown from .* to .*, the end of ' 240
	vm_wait 'nestbox: state: grew nestbox-state from .* to 1\.[0-9] GiB' 60
	vm_wait 'nestbox: state: .* on /var/lib/nestbox: ' 60
	vm_wait '\[guest web\] nbguest: web: disk holds: blank' 300
	vm_wait "\[guest web\] nbguest: web: disk written: $mark" 30
	vm_wait '\[guest web\] nbguest: web: ready' 60
	vm_wait '\[guest second\] nbguest: second: ready' 180
	# The L1's ACPI power button, as GCE presses it on a stop.
	local t0=$SECONDS
	vm_qmp system_powerdown
	vm_wait 'nestbox: guests: powering down, up to 60 s' 30
	vm_wait_exit 90
	local took=$((SECONDS - t0))
	run grep -a 'nbguest: .*: powering off' "$VM_CONSOLE"
	assert_output --partial '[guest web] nbguest: web: powering off'
	assert_output --partial '[guest second] nbguest: second: powering off'
	run grep -a 'nestbox: guests: all stopped' "$VM_CONSOLE"
	assert_success
	run grep -a 'did not power off in time' "$VM_CONSOLE"
	assert_failure
	echo "L1 stop took $took s" >&3
	[ "$took" -lt 75 ]

	# Again from the same disk: the guest's overlay kept what it wrote.
	declare_guests "$(guest web ', "restart": "always", "disks": [{"source": "http://203.0.113.10/blank.img", "sha256": "'"$BSUM"'", "overlay": true}]' '')"
	VM_DIR=$BATS_TEST_TMPDIR/vm2 VM_SNAPSHOT=off VM_MEMORY=1536 VM_NETNS=$L0_NS \
		vm_start "$BATS_TEST_TMPDIR/l1.raw" \
		-kernel "$OUT/pkg/linux/boot/vmlinuz" -initrd "$BATS_FILE_TMPDIR/initrd.zst" \
		-append "console=ttyS0,38400n8 panic=-1 nbtest.passive" $(l0_vm_net)
	vm_wait "\[guest web\] nbguest: web: disk holds: $mark" 300
}

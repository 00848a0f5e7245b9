# An escaped QEMU or a hostile image gains nothing (docs/security.md, "An
# escaped QEMU, a hostile image"), end to end in one boot of the image on the
# fake GCE L0: a running guest's QEMU holds fds 0-2 and what it opens itself
# (no metadata connection, no console, no socket of PID 1's), its directory
# is PID 1's with only disks/ its own, /proc hides other uids' processes, a
# qcow2 that names a backing file is refused, a signed URL's query is never
# shown, and the nestbox command still sees everything.
load helpers
load lib/l0
load lib/vm

# An L2 under KVM in an L1 whose SVM is emulated by TCG sometimes never prints
# a byte (see e2e-l2net.bats); a failed run is retried.
BATS_TEST_RETRIES=2

setup_file() {
	for f in "$OUT/rootfs/init" "$OUT/l2-guest/initramfs.img" "$OUT/pkg/linux/boot/vmlinuz" \
		"$OUT/pkg/qemu/rootfs/usr/bin/qemu-img"; do
		[ -e "$f" ] || { echo "$f is missing: run make test"; return 1; }
	done
	local root=$BATS_FILE_TMPDIR/root
	# The user on the L1's console, root: once guest "web" runs, what its
	# QEMU holds and may see, printed as "l1: ..." lines.
	vm_test_root "$root" <<-'SH'
	#!/bin/sh
	[ -e /run/l1-user ] && exec sleep 100000
	touch /run/l1-user
	n=0
	until nestbox status web 2>/dev/null | grep -q '"state":[[:space:]]*"running"'; do
		[ $n -lt 1200 ] || { echo "l1: web never ran"; exec sleep 100000; }
		sleep 0.5; n=$((n + 1))
	done
	pid=$(nestbox status web | sed -n 's/.*"pid":[[:space:]]*\([0-9]*\).*/\1/p')
	tcp=$(cat /proc/net/tcp /proc/net/tcp6 /proc/net/unix 2>/dev/null)
	for f in /proc/$pid/fd/*; do
		l=$(readlink "$f")
		echo "l1: qemu fd ${f##*/} -> $l"
		case $l in socket:*)
			i=${l#socket:[}; i=${i%]}
			echo "$tcp" | awk -v i="$i" '$10 == i { print "l1: qemu tcp " $3 }
			    $7 == i { print "l1: qemu unix " $8 }'
		esac
	done
	echo "l1: qemu fds end"
	uid=$(awk '/^Uid:/ { print $2 }' /proc/$pid/status)
	echo "l1: qemu uid $uid"
	grep ' /proc ' /proc/mounts | sed 's/^/l1: mount: /'
	stat -c 'l1: stat: %n %u:%g %a' /var/lib/nestbox/guests/web \
		/var/lib/nestbox/guests/web/* /var/lib/nestbox/images
	# as the guest's uid: no other process in sight, nothing to write in
	# PID 1's directory
	chpst -u "$uid:$uid" /bin/sh -c '
		echo "uid $(id -u)"
		[ -e /proc/1 ] && echo "sees PID 1"
		touch /var/lib/nestbox/guests/web/x 2>/dev/null && echo "wrote"
		echo "done"' </dev/null 2>&1 | sed 's/^/l1: as guest: /'
	n=0
	until nestbox status hostile 2>/dev/null | grep -q '"state":[[:space:]]*"failed"'; do
		[ $n -lt 600 ] || break
		sleep 0.5; n=$((n + 1))
	done
	nestbox list | sed 's/^/l1: list: /'
	echo "l1: done"
	exec sleep 100000
	SH
	vm_pack_initramfs "$root" "$BATS_FILE_TMPDIR/initrd.zst"
	truncate -s 1M "$BATS_FILE_TMPDIR/empty.img"
}

teardown() {
	vm_kill
	l0_stop
}

@test "an escaped QEMU holds no fd of PID 1's and sees no other uid; a hostile qcow2 is refused; a signed URL's query is not shown" {
	l0_start "$TOP/tests/fixtures/metadata/basic.json"
	local w=$L0_DIR/www qemu_img=$OUT/pkg/qemu/rootfs/usr/bin/qemu-img ksum isum hsum web hostile
	cp "$OUT/pkg/linux/boot/vmlinuz" "$w/vmlinuz"
	cp "$OUT/l2-guest/initramfs.img" "$w/initrd"
	ksum=$(sha256sum <"$w/vmlinuz" | cut -d' ' -f1)
	isum=$(sha256sum <"$w/initrd" | cut -d' ' -f1)
	# a qcow2 whose backing file is the L1's first disk (made with -u: the
	# backing file is named, never opened, here)
	"$qemu_img" create -q -f qcow2 -u -F raw -b /dev/vda "$w/hostile.qcow2" 64M
	hsum=$(sha256sum <"$w/hostile.qcow2" | cut -d' ' -f1)
	web=$(printf '{"name": "web", "memory": "192M", "kernel": {"source": "http://203.0.113.10/vmlinuz?X-Goog-Signature=SECRET123", "sha256": "%s"}, "initrd": {"source": "http://203.0.113.10/initrd", "sha256": "%s"}, "cmdline": "console=ttyS0 panic=-1 nbguest.name=web"}' "$ksum" "$isum")
	hostile='{"name": "hostile", "memory": "128M", "disks": [{"source": "http://203.0.113.10/hostile.qcow2", "sha256": "'"$hsum"'", "format": "qcow2", "overlay": true}]}'
	python3 -c 'import json,sys; print(json.dumps({"instance": {"attributes": {"nestbox-guests": sys.argv[1], "enable-guest-attributes": "TRUE"}}}))' \
		"{\"version\": 1, \"guests\": [$web, $hostile]}" >"$BATS_TEST_TMPDIR/patch.json"
	l0_metadata PATCH /document "$(cat "$BATS_TEST_TMPDIR/patch.json")" >/dev/null
	VM_MEMORY=1536 VM_NETNS=$L0_NS vm_start "$BATS_FILE_TMPDIR/empty.img" \
		-kernel "$OUT/pkg/linux/boot/vmlinuz" -initrd "$BATS_FILE_TMPDIR/initrd.zst" \
		-append "console=ttyS0,38400n8 panic=-1" $(l0_vm_net)

	# the hostile image: downloaded, looked at, refused for good
	vm_wait 'nestbox-fetch: http://203\.0\.113\.10/hostile\.qcow2: refused: it names a backing file \(/dev/vda\)' 300
	vm_wait 'nestbox: warning: guest hostile: disks\[0\]: http://203\.0\.113\.10/hostile\.qcow2: the image names other files' 30
	vm_wait 'nestbox: guest hostile: failed' 10
	# web: its query cut wherever its source is shown
	vm_wait 'nestbox: guest web: downloading http://203\.0\.113\.10/vmlinuz\?\.\.\.' 10
	vm_wait 'l1: done' 600
	run cat "$VM_CONSOLE"
	refute_output --partial SECRET123
	# QEMU's fds: 0 /dev/null, 1 and 2 its log; no console, no TCP socket
	# (the metadata server's connections are PID 1's alone), no unix socket
	# but its own listening ones and their clients
	# (the console's lines end in CR LF)
	run bash -c "grep -a '^l1: qemu ' '$VM_CONSOLE' | tr -d '\\r'"
	assert_line --regexp '^l1: qemu fd 0 -> /dev/null'
	assert_line --regexp '^l1: qemu fd 1 -> /var/lib/nestbox/guests/web/qemu\.log'
	assert_line --regexp '^l1: qemu fd 2 -> /var/lib/nestbox/guests/web/qemu\.log'
	refute_line --partial '/dev/console'
	refute_line --partial '/dev/ttyS'
	refute_line --regexp '^l1: qemu tcp '
	refute_line --regexp '^l1: qemu unix .*/run/nestbox/(ctl|control)'
	assert_line 'l1: qemu fds end'
	# the file boundary: PID 1's directory, the guest's disks/ and console.log
	run bash -c "grep -a '^l1: ' '$VM_CONSOLE' | tr -d '\\r'"
	assert_line --regexp '^l1: qemu uid 2000[0-9]$'
	assert_line --regexp '^l1: mount: proc /proc proc .*hidepid=invisible'
	assert_line --regexp '^l1: stat: /var/lib/nestbox/guests/web 0:2000[0-9] 750$'
	assert_line --regexp '^l1: stat: /var/lib/nestbox/guests/web/disks 2000[0-9]:2000[0-9] 700$'
	assert_line --regexp '^l1: stat: /var/lib/nestbox/guests/web/console\.log 2000[0-9]:2000[0-9] 600$'
	assert_line --regexp '^l1: stat: /var/lib/nestbox/guests/web/qemu\.log 0:0 600$'
	assert_line --regexp '^l1: stat: /var/lib/nestbox/images 0:900 1775$'
	# as the guest's uid: PID 1 out of sight, PID 1's directory not its
	refute_line 'l1: as guest: sees PID 1'
	refute_line 'l1: as guest: wrote'
	assert_line "l1: as guest: uid $(sed -n 's/^l1: qemu uid //p' <<<"$output")"
	assert_line 'l1: as guest: done'
	# and root's nestbox command sees everything
	assert_line --regexp '^l1: list: web +running '
	assert_line --regexp '^l1: list: hostile +failed '
}

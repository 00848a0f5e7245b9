# The peer benchmark's cheap parts (scripts/bench-peer, scripts/bench-compare):
# usage, the rootfs cache key, what the peer adds to Debian's rootfs, and the
# side-by-side table. The full peer run (debootstrap, Debian booting under
# TCG) takes too long for `make test`: it is `make bench-peer`, by hand.
load helpers

@test "bench-peer --help prints its usage; a wrong option is refused" {
	run "$TOP/scripts/bench-peer" --help
	assert_success
	assert_output --partial "scripts/bench-peer [--runs N]"
	assert_output --partial "virsh net-start default"
	run "$TOP/scripts/bench-peer" --bogus
	assert_equal "$status" 2
	assert_output --partial "usage: scripts/bench-peer"
	run "$TOP/scripts/bench-peer" --runs 0
	assert_equal "$status" 2
}

@test "the rootfs cache key follows the package list, not its comments or order" {
	list=$BATS_TEST_TMPDIR/packages
	cp "$TOP/tests/peer/packages" "$list"
	run "$TOP/scripts/bench-peer" --packages "$list" --print-key
	assert_success
	[[ $output =~ ^[0-9a-f]{16}$ ]]
	key=$output
	# the default list is tests/peer/packages
	run "$TOP/scripts/bench-peer" --print-key
	assert_output "$key"
	# comments, blank lines and order do not count
	{ echo "# a comment"; echo; tac "$TOP/tests/peer/packages"; } >"$list"
	run "$TOP/scripts/bench-peer" --packages "$list" --print-key
	assert_output "$key"
	# a package more does
	echo "openssh-server" >>"$list"
	run "$TOP/scripts/bench-peer" --packages "$list" --print-key
	assert_success
	[[ $output =~ ^[0-9a-f]{16}$ ]]
	[ "$output" != "$key" ]
	run "$TOP/scripts/bench-peer" --packages "$BATS_TEST_TMPDIR/missing" --print-key
	assert_failure
	assert_output --partial "no package list"
}

@test "the peer's overlay: the seed procedure after libvirtd, networkd on eth0, the L2 guest" {
	dir=$BATS_TEST_TMPDIR/overlay
	run "$TOP/scripts/bench-peer" --overlay "$dir"
	assert_success
	for f in usr/local/sbin/nbpeer-run usr/local/sbin/nbpeer-marks; do
		[ -x "$dir/$f" ]
		sh -n "$dir/$f"
	done
	# enabled as systemctl enable does
	wants=$dir/etc/systemd/system/multi-user.target.wants
	assert_equal "$(readlink "$wants/nbpeer.service")" /etc/systemd/system/nbpeer.service
	assert_equal "$(readlink "$wants/nbpeer-marks.service")" /etc/systemd/system/nbpeer-marks.service
	assert_equal "$(readlink "$wants/systemd-networkd.service")" /lib/systemd/system/systemd-networkd.service
	run grep -x 'After=libvirtd.service' "$dir/etc/systemd/system/nbpeer.service"
	assert_success
	run grep -x 'ExecStart=/usr/local/sbin/nbpeer-run' "$dir/etc/systemd/system/nbpeer.service"
	assert_success
	run cat "$dir/etc/systemd/network/10-eth0.network"
	assert_output --partial 'Name=eth0'
	assert_output --partial 'DHCP=ipv4'
	# the seed pages' steps, in their order, and the markers the host waits for
	run grep -E '^[^#]*(net-start default|ip tuntap add|master virbr0|-accel kvm -cpu host)' \
		"$dir/usr/local/sbin/nbpeer-run"
	assert_success
	assert_equal "$(echo "$output" | cut -c1-20 | tr '\n' '|')" \
		'if virsh -c qemu:///|ip tuntap add dev l2|ip link set l2tap ma|qemu-system-x86_64 -|'
	for m in 'libvirtd up' 'net-start done' 'l2 exec' 'mem done'; do
		grep -q "con \"$m\"" "$dir/usr/local/sbin/nbpeer-run"
	done
	grep -q '\[guest l2\] ' "$dir/usr/local/sbin/nbpeer-run"
	if [ -f "$OUT/l2-guest/initramfs.img" ]; then
		cmp "$OUT/l2-guest/initramfs.img" "$dir/opt/nbpeer/l2/initrd"
		cmp "$OUT/pkg/linux/boot/vmlinuz" "$dir/opt/nbpeer/l2/vmlinuz"
	fi
	# no mirror host name anywhere in what the peer adds
	run grep -rlE 'https?://[a-z]' "$dir/etc" "$dir/usr"
	assert_failure
}

@test "bench-compare: medians side by side with the ratio; --update replaces its section" {
	d=$BATS_TEST_TMPDIR
	cat >"$d/bench.json" <<-'EOF'
	{"runs": 3, "figures": {
	  "boot.init": {"what": "x", "median": 2.0, "min": 1.9, "max": 2.1, "runs": 3, "unit": "s"},
	  "size.vmlinuz": {"what": "x", "median": 10.0, "min": 10.0, "max": 10.0, "runs": 1, "unit": "MiB"},
	  "mem.pid1": {"what": "x", "median": 900, "min": 900, "max": 900, "runs": 3, "unit": "KiB"}}}
	EOF
	cat >"$d/bench-peer.json" <<-'EOF'
	{"runs": 2, "l2_failures": 1, "packages": {"qemu-system-x86": "1:7.2"}, "figures": {
	  "boot.init": {"what": "x", "median": 30.0, "min": 29, "max": 31, "runs": 2, "unit": "s"},
	  "size.vmlinuz": {"what": "x", "median": 7.5, "min": 7.5, "max": 7.5, "runs": 1, "unit": "MiB"},
	  "boot.other": {"what": "QEMU start to something", "median": 60.0, "min": 60, "max": 60, "runs": 2, "unit": "s"}}}
	EOF
	run "$TOP/scripts/bench-compare" "$d/bench.json" "$d/bench-peer.json"
	assert_success
	assert_line '| QEMU start to init (nestbox'"'"'s PID 1; systemd) | 2.00 | 30.00 | 15.0x | s |'
	assert_line '| kernel (vmlinuz) | 10.00 | 7.50 | 0.8x | MiB |'
	assert_line '| RSS of PID 1 (nestbox'"'"'s init; systemd) | 900 | - |  | KiB |'
	assert_line '| QEMU start to something | - | 60.00 |  | s |'
	assert_output --partial 'qemu-system-x86 1:7.2'
	assert_output --partial 'silent in 1 of'
	printf '# nestbox benchmark\n\n| a | b |\n| the peer column (Debian 12 + libvirt, same L0) | not done |\n' >"$d/bench.md"
	run "$TOP/scripts/bench-compare" --update "$d"
	assert_success
	run "$TOP/scripts/bench-compare" --update "$d"
	assert_success
	assert_equal "$(grep -c 'side by side' "$d/bench.md")" 1
	assert_equal "$(grep -c 'the peer column' "$d/bench.md")" 0
	assert_equal "$(head -n 1 "$d/bench.md")" '# nestbox benchmark'
	run "$TOP/scripts/bench-compare" --bogus
	assert_equal "$status" 2
}

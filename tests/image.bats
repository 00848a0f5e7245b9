# The outputs of `make`: the GCE tarball, the disk's layout, the boot
# partition, the initramfs and its kernel modules. Reads out/ as built.
load helpers

setup_file() {
	for f in nestbox.img nestbox-gce.tar.gz initramfs.img manifest.txt; do
		[ -f "$OUT/$f" ] || { echo "out/$f is missing: run make first" >&2; return 1; }
	done
}

GiB=$((1024 * 1024 * 1024))
boot_offset() { echo $((2048 * 512)); }
state_offset() { sfdisk --json "$OUT/nestbox.img" | python3 -c 'import json,sys; print(json.load(sys.stdin)["partitiontable"]["partitions"][1]["start"] * 512)'; }

@test "the GCE tarball holds exactly disk.raw, a whole number of GiB" {
	run tar -tzf "$OUT/nestbox-gce.tar.gz"
	assert_success
	assert_output "disk.raw"
	size=$(tar -tvzf "$OUT/nestbox-gce.tar.gz" | awk '{ print $3 }')
	[ "$size" -ge "$GiB" ]
	[ $((size % GiB)) -eq 0 ]
	[ "$size" -eq "$(stat -c %s "$OUT/nestbox.img")" ]
}

@test "the tarball is oldgnu format, sparse, and its disk.raw is the image" {
	header=$(gzip -dc "$OUT/nestbox-gce.tar.gz" | head -c 512 | od -An -c -j 156 -N 1 | tr -d ' ')
	assert_equal "$header" "S" # GNU sparse member
	magic=$(gzip -dc "$OUT/nestbox-gce.tar.gz" | head -c 512 | tail -c +258 | head -c 8 | od -An -tx1 | tr -d ' \n')
	assert_equal "$magic" "7573746172202000" # "ustar  \0": (old)GNU, not POSIX ustar
	[ "$(gzip -dc "$OUT/nestbox-gce.tar.gz" | tar -xOf - disk.raw | sha256sum | cut -d' ' -f1)" = \
		"$(sha256sum "$OUT/nestbox.img" | cut -d' ' -f1)" ]
}

@test "the disk has an MBR with syslinux's boot code, the boot signature and two partitions" {
	run od -An -tx1 -j 510 -N 2 "$OUT/nestbox.img"
	assert_output " 55 aa"
	cmp -n 440 "$OUT/nestbox.img" "$OUT/pkg/syslinux/boot/mbr.bin"
	run sfdisk --json "$OUT/nestbox.img"
	assert_success
	echo "$output" | python3 -c '
import json, sys
t = json.load(sys.stdin)["partitiontable"]
p = t["partitions"]
assert t["label"] == "dos", t
assert len(p) == 2, p
assert p[0]["start"] == 2048 and p[0].get("bootable") and p[0]["type"] == "e", p[0]
assert p[1]["type"] == "83" and p[1]["start"] == p[0]["start"] + p[0]["size"], p[1]
assert (p[1]["start"] + p[1]["size"]) * 512 == '"$(stat -c %s "$OUT/nestbox.img")"', "state partition does not reach the end"
'
}

@test "the boot partition holds syslinux, the kernel and the initramfs, with GCE's console" {
	img="$OUT/nestbox.img@@$(boot_offset)"
	run mdir -a -b -i "$img" ::/
	assert_success
	for f in ldlinux.sys ldlinux.c32 syslinux.cfg vmlinuz initrd.img; do
		assert_line "::/$f"
	done
	mcopy -n -i "$img" ::/vmlinuz ::/initrd.img ::/syslinux.cfg "$BATS_TEST_TMPDIR/"
	cmp "$BATS_TEST_TMPDIR/vmlinuz" "$OUT/pkg/linux/boot/vmlinuz"
	cmp "$BATS_TEST_TMPDIR/initrd.img" "$OUT/initramfs.img"
	run grep -E '^ *APPEND ' "$BATS_TEST_TMPDIR/syslinux.cfg"
	assert_output --regexp 'console=ttyS0,38400n8d'
	refute_output --partial quiet
}

@test "the second partition is an empty ext4 file system labelled for state" {
	run blkid -p -O "$(state_offset)" "$OUT/nestbox.img"
	assert_success
	assert_output --partial 'LABEL="nestbox-state"'
	assert_output --partial 'TYPE="ext4"'
}

@test "the initramfs holds /init, busybox and the device nodes, all owned by root" {
	run "$TOP/tests/lib/cpio-list" "$OUT/initramfs.img"
	assert_success
	assert_line --regexp '^f 0755 0 0 0:0 [0-9]+ init$'
	assert_line --regexp '^f 0755 0 0 0:0 [0-9]+ bin/busybox$'
	assert_line --regexp '^l 0777 0 0 0:0 [0-9]+ bin/sh$'
	assert_line 'c 0600 0 0 5:1 0 dev/console'
	assert_line 'd 1777 0 0 0:0 0 tmp'
	assert_line --regexp '^f 0600 0 0 0:0 [0-9]+ etc/shadow$'
	refute_line --regexp '^[a-z] [0-7]+ [1-9]'
	# Root can not log in: its password field is a hash no password gives
	# (sha512-crypt output never holds '*').
	run bash -c "zstd -dc '$OUT/initramfs.img' | cpio -i --quiet --to-stdout etc/shadow | awk -F: '\$1 == \"root\" { print \$2 }'"
	assert_output '$6$nologin$*'
}

@test "the initramfs holds every listed module with its dependencies, and no other" {
	release=$(cat "$OUT/pkg/linux/boot/release")
	full=$OUT/pkg/linux/modules/lib/modules/$release
	# a line is a name, then the module's parameters
	want=$(sed -e 's/#.*//' "$TOP/config/modules.list" | awk 'NF { print $1 }' | tr - _ | sort -u | while read -r m; do
		line=$(awk -v m="$m" '{ n = $1; sub(/:$/, "", n); sub(/.*\//, "", n); sub(/\.ko.*/, "", n); gsub(/-/, "_", n); if (n == m) print }' "$full/modules.dep")
		if [ -z "$line" ]; then
			grep -qE "/${m//_/[-_]}\.ko" "$full/modules.builtin" || echo "MISSING $m"
			continue
		fi
		echo "$line" | tr -d : | tr ' ' '\n'
	done | sed 's/\.xz$//' | grep . | sort -u)
	refute [ -z "$want" ]
	run grep MISSING <<<"$want"
	assert_failure
	have=$("$TOP/tests/lib/cpio-list" "$OUT/initramfs.img" | awk '$NF ~ /\.ko$/ { print $NF }' |
		sed "s|^lib/modules/$release/||" | sort)
	assert_equal "$have" "$want"
}

@test "the manifest names every package with its source hashes, and the image's sha256" {
	run cat "$OUT/manifest.txt"
	for p in musl busybox linux syslinux; do
		assert_line --regexp "^package $p "
	done
	assert_line "image nestbox.img sha256 $(sha256sum "$OUT/nestbox.img" | cut -d' ' -f1) size $(stat -c %s "$OUT/nestbox.img")"
	assert_line --regexp '^  source busybox-1\.37\.0\.tar\.bz2 sha256 [0-9a-f]{64}$'
}

@test "busybox is static and has the applets the appliance needs" {
	run file "$OUT/rootfs/bin/busybox"
	assert_output --partial "statically linked"
	run "$OUT/rootfs/bin/busybox" --list
	for a in sh udhcpc modprobe insmod mount ip wget getty login ntpd poweroff; do
		assert_line "$a"
	done
	refute_line tc
}

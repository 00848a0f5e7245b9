# The static musl packages of the appliance: QEMU, SeaBIOS, dnsmasq,
# iptables, e2fsprogs, the CA bundle, and the libraries init links (libcurl
# with Mbed TLS, cJSON). The tests use what `make` built in out/pkg and fail,
# naming the package, when something is not there.
load helpers

PACKAGES="zlib pcre2 meson glib qemu seabios dnsmasq iptables mbedtls curl cjson ca-certificates e2fsprogs"

setup() {
	PKG=$OUT/pkg
	SYSROOT=$OUT/sysroot
	QEMU=$PKG/qemu/rootfs/usr/bin/qemu-system-x86_64
	TMP=$BATS_TEST_TMPDIR
}

# need NAME FILE...: fail with a clear message unless package NAME is built
# and installed each FILE (relative to out/pkg/NAME).
need() {
	local name=$1 f
	shift
	[ -d "$PKG/$name" ] || fail "out/pkg/$name is missing: build it first (make, or scripts/build-package $name)"
	for f; do
		[ -e "$PKG/$name/$f" ] || [ -L "$PKG/$name/$f" ] ||
			fail "out/pkg/$name/$f is missing: package $name did not install it"
	done
}

# The programs of the image, by package.
rootfs_elves() {
	local f
	for f in "$PKG"/*/rootfs/usr/bin/* "$PKG"/*/rootfs/usr/sbin/* "$PKG"/*/rootfs/bin/* "$PKG"/*/rootfs/sbin/*; do
		[ -f "$f" ] && [ ! -L "$f" ] || continue
		[ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = '177ELF' ] && echo "$f"
	done
	return 0
}

@test "every package of the issue is built" {
	local p missing=
	for p in $PACKAGES; do
		[ -f "$PKG/$p/.key" ] || missing="$missing $p"
	done
	[ -z "$missing" ] || fail "not built:$missing (run make, or scripts/build-package NAME in dependency order)"
}

@test "every program in out/pkg/*/rootfs is static: no interpreter, no dynamic section, no glibc symbols" {
	need qemu rootfs/usr/bin/qemu-system-x86_64
	local f bad= n=0
	while read -r f; do
		n=$((n + 1))
		if readelf -lW "$f" | grep -q 'INTERP'; then bad="$bad\n$f: has an interpreter"; fi
		if readelf -dW "$f" | grep -q 'Dynamic section'; then bad="$bad\n$f: has a dynamic section"; fi
		if readelf -VW "$f" | grep -q 'GLIBC_'; then bad="$bad\n$f: has glibc symbol versions"; fi
		if file -b "$f" | grep -qv 'statically linked'; then bad="$bad\n$f: $(file -b "$f")"; fi
	done < <(rootfs_elves)
	[ "$n" -ge 8 ] || fail "only $n programs found under out/pkg/*/rootfs"
	[ -z "$bad" ] || fail "$(printf "$bad")"
}

@test "every program in out/pkg/*/rootfs is stripped" {
	need qemu rootfs/usr/bin/qemu-system-x86_64
	local f bad=
	while read -r f; do
		if file -b "$f" | grep -q 'not stripped'; then bad="$bad $f"; fi
	done < <(rootfs_elves)
	[ -z "$bad" ] || fail "not stripped:$bad"
}

@test "every package that installs into the image ships its licence" {
	local p
	for p in qemu seabios dnsmasq iptables e2fsprogs ca-certificates; do
		need "$p" rootfs/usr/share/licenses/"$p"
		[ -n "$(ls -A "$PKG/$p/rootfs/usr/share/licenses/$p")" ] || fail "$p: no licence file"
	done
}

@test "qemu-system-x86_64 is QEMU 10.0 and asks for 8 MiB thread stacks" {
	need qemu rootfs/usr/bin/qemu-system-x86_64
	run "$QEMU" --version
	assert_success
	assert_line --partial "QEMU emulator version 10.0."
	# musl takes PT_GNU_STACK's size as the default thread stack size.
	run readelf -lW "$QEMU"
	assert_output --regexp 'GNU_STACK +(0x0+ +){4}0x0*800000 '
}

@test "qemu-system-x86_64 has the kvm and tcg accelerators" {
	need qemu rootfs/usr/bin/qemu-system-x86_64
	run "$QEMU" -accel help
	assert_success
	assert_line kvm
	assert_line tcg
}

@test "qemu-system-x86_64 has the devices L2 guests use" {
	need qemu rootfs/usr/bin/qemu-system-x86_64
	run "$QEMU" -device help
	assert_success
	local d
	for d in virtio-net-pci virtio-blk-pci virtio-scsi-pci scsi-hd virtio-rng-pci virtio-serial-pci pcie-root-port; do
		assert_line --partial "name \"$d\""
	done
}

@test "qemu-system-x86_64 has tap networking and the pc (i440fx) and q35 machines" {
	need qemu rootfs/usr/bin/qemu-system-x86_64
	run "$QEMU" -netdev help
	assert_success
	assert_line tap
	run "$QEMU" -machine help
	assert_success
	assert_line --regexp '^pc +Standard PC \(i440FX \+ PIIX, 1996\)'
	assert_line --regexp '^q35 +Standard PC \(Q35 \+ ICH9, 2009\)'
}

@test "qemu-img makes a qcow2 overlay on a raw image" {
	need qemu rootfs/usr/bin/qemu-img
	local img=$PKG/qemu/rootfs/usr/bin/qemu-img
	run "$img" create -f raw "$TMP/base.raw" 16M
	assert_success
	run "$img" create -f qcow2 -b "$TMP/base.raw" -F raw "$TMP/overlay.qcow2"
	assert_success
	run "$img" info "$TMP/overlay.qcow2"
	assert_success
	assert_line 'file format: qcow2'
	assert_line --partial "backing file: $TMP/base.raw"
	run "$img" check "$TMP/overlay.qcow2"
	assert_success
}

# A boot sector that writes a marker to COM1 and halts.
make_boot_disk() {
	printf '\x31\xc0\x8e\xd8\xba\xf8\x03\xbe\x15\x7c\xac\x84\xc0\x74\x03\xee\xeb\xf8\xf4\xeb\xfdNESTBOX-BOOT-OK\n\0' >"$1"
	truncate -s 510 "$1"
	printf '\x55\xaa' >>"$1"
	truncate -s 1M "$1"
}

# boot_marker MACHINE DEVICE: boot the disk under TCG with our SeaBIOS and wait
# (at most 30 s) for the marker on the serial port.
boot_marker() {
	local serial=$TMP/serial-$1.log pid i
	make_boot_disk "$TMP/boot.img"
	: >"$serial"
	"$QEMU" -machine "$1" -accel tcg -m 64 -nodefaults -display none \
		-L "$PKG/qemu/rootfs/usr/share/qemu" -L "$PKG/seabios/rootfs/usr/share/qemu" \
		-drive file="$TMP/boot.img",format=raw,if=none,id=d0 -device "$2",drive=d0 \
		-serial file:"$serial" 3>&- &
	pid=$!
	for i in $(seq 60); do
		grep -q NESTBOX-BOOT-OK "$serial" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.5
	done
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	grep -q NESTBOX-BOOT-OK "$serial" || fail "no boot marker on the serial port ($1, $2): $(cat "$serial")"
}

@test "SeaBIOS boots a virtio-blk disk on q35 (TCG)" {
	need qemu rootfs/usr/bin/qemu-system-x86_64 rootfs/usr/share/qemu/kvmvapic.bin rootfs/usr/share/qemu/linuxboot_dma.bin
	need seabios rootfs/usr/share/qemu/bios-256k.bin
	boot_marker q35 virtio-blk-pci,romfile=
}

@test "SeaBIOS boots a virtio-scsi disk on pc (TCG)" {
	need qemu rootfs/usr/bin/qemu-system-x86_64
	need seabios rootfs/usr/share/qemu/bios-256k.bin
	# virtio-scsi-pci with a scsi-hd: boot_marker's -device is the disk, so
	# add the controller in front of it.
	local serial=$TMP/serial.log pid i
	make_boot_disk "$TMP/boot.img"
	: >"$serial"
	"$QEMU" -machine pc -accel tcg -m 64 -nodefaults -display none \
		-L "$PKG/qemu/rootfs/usr/share/qemu" -L "$PKG/seabios/rootfs/usr/share/qemu" \
		-device virtio-scsi-pci,id=scsi0,romfile= \
		-drive file="$TMP/boot.img",format=raw,if=none,id=d0 -device scsi-hd,bus=scsi0.0,drive=d0 \
		-serial file:"$serial" 3>&- &
	pid=$!
	for i in $(seq 60); do
		grep -q NESTBOX-BOOT-OK "$serial" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.5
	done
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	grep -q NESTBOX-BOOT-OK "$serial" || fail "no boot marker on the serial port: $(cat "$serial")"
}

@test "dnsmasq is 2.91 with DHCP" {
	need dnsmasq rootfs/usr/sbin/dnsmasq
	run "$PKG/dnsmasq/rootfs/usr/sbin/dnsmasq" --version
	assert_success
	assert_line --partial "Dnsmasq version 2.91"
	assert_output --regexp 'Compile time options:.* DHCP '
}

@test "iptables is 1.8.11 legacy, one multi-call binary, with iptables-restore" {
	need iptables rootfs/usr/sbin/xtables-legacy-multi rootfs/usr/sbin/iptables \
		rootfs/usr/sbin/iptables-restore rootfs/usr/sbin/iptables-save
	local d=$PKG/iptables/rootfs/usr/sbin
	run "$d/iptables" -V
	assert_success
	assert_output "iptables v1.8.11 (legacy)"
	run "$d/iptables-restore" --version
	assert_success
	assert_output "iptables-restore v1.8.11 (legacy)"
	[ "$(readlink "$d/iptables-restore")" = xtables-legacy-multi ]
}

@test "e2fsprogs makes, checks and grows an ext4 file system" {
	need e2fsprogs rootfs/usr/sbin/mke2fs rootfs/usr/sbin/e2fsck rootfs/usr/sbin/resize2fs
	local d=$PKG/e2fsprogs/rootfs/usr/sbin img=$TMP/state.img
	run "$d/mke2fs" -V
	assert_success
	assert_output --partial "mke2fs 1.47.2"
	truncate -s 32M "$img"
	run "$d/mke2fs" -q -F -t ext4 -L nestbox-state "$img"
	assert_success
	run "$d/e2fsck" -fn "$img"
	assert_success
	truncate -s 96M "$img"
	run "$d/resize2fs" "$img"
	assert_success
	run "$d/e2fsck" -fn "$img"
	assert_success
	# 96 MiB in 1 KiB blocks (mke2fs picks 1 KiB for so small a file system).
	assert_output --partial "/98304 blocks"
}

@test "the CA bundle holds Mozilla's server roots as PEM" {
	need ca-certificates rootfs/etc/ssl/certs/ca-certificates.crt
	local b=$PKG/ca-certificates/rootfs/etc/ssl/certs/ca-certificates.crt n
	n=$(grep -c 'BEGIN CERTIFICATE' "$b")
	[ "$n" -gt 100 ] || fail "only $n certificates in the bundle"
	# Let's Encrypt's root and Google Trust Services' root are in it.
	local subjects
	subjects=$(openssl crl2pkcs7 -nocrl -certfile "$b" | openssl pkcs7 -print_certs -noout) ||
		fail "openssl can not read the bundle"
	[ "$(grep -c '^subject=' <<<"$subjects")" -eq "$n" ] || fail "openssl reads fewer than $n certificates"
	grep -q 'CN = ISRG Root X1' <<<"$subjects" || fail "no ISRG Root X1 in the bundle"
	grep -q 'CN = GTS Root R1' <<<"$subjects" || fail "no GTS Root R1 in the bundle"
}

# A program linked like init: libcurl (with Mbed TLS) and cJSON from the
# sysroot, with the flags pkg-config gives.
build_client() {
	cat >"$TMP/client.c" <<'EOF'
#include <stdio.h>
#include <string.h>
#include <curl/curl.h>
#include <cJSON.h>

static size_t sink(char *p, size_t size, size_t n, void *buf) {
	size_t len = strlen(buf), add = size * n;
	if (len + add >= 4096) add = 4095 - len;
	memcpy((char *)buf + len, p, add);
	((char *)buf)[len + add] = 0;
	return size * n;
}

/* client                 -> versions and protocols
 * client URL [CAFILE]    -> GET URL, parse the reply as JSON, print "hostname" */
int main(int argc, char **argv) {
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (argc < 2) {
		curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
		printf("libcurl %s %s cJSON %s\nprotocols:", v->version, v->ssl_version, cJSON_Version());
		for (const char *const *p = v->protocols; *p; p++) printf(" %s", *p);
		printf("\n");
		return 0;
	}
	static char buf[4096];
	CURL *c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, argv[1]);
	if (argc > 2) curl_easy_setopt(c, CURLOPT_CAINFO, argv[2]);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, buf);
	CURLcode r = curl_easy_perform(c);
	if (r != CURLE_OK) { printf("error: %s\n", curl_easy_strerror(r)); return 1; }
	cJSON *j = cJSON_Parse(buf);
	cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "hostname");
	if (!cJSON_IsString(h)) { printf("no hostname in %s\n", buf); return 1; }
	printf("hostname: %s\n", h->valuestring);
	return 0;
}
EOF
	local flags
	flags=$(PKG_CONFIG_LIBDIR=$SYSROOT/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$SYSROOT PKG_CONFIG_PATH= \
		pkg-config --static --cflags --libs libcurl libcjson) || fail "pkg-config --static libcurl libcjson failed"
	# shellcheck disable=SC2086
	"$OUT/toolchain/bin/musl-gcc" -static -O2 -o "$TMP/client" "$TMP/client.c" $flags ||
		fail "linking against libcurl and cJSON from the sysroot failed"
}

@test "libcurl (HTTP and HTTPS only, Mbed TLS) and cJSON link statically with pkg-config's flags" {
	need curl sysroot/lib/libcurl.a sysroot/lib/pkgconfig/libcurl.pc
	need mbedtls sysroot/lib/libmbedtls.a
	need cjson sysroot/lib/libcjson.a sysroot/lib/pkgconfig/libcjson.pc
	build_client
	run readelf -lW "$TMP/client"
	refute_output --partial INTERP
	run "$TMP/client"
	assert_success
	assert_line --regexp '^libcurl 8\.14\.1 mbedTLS/3\.6\.[0-9]+ cJSON 1\.7\.18$'
	assert_line 'protocols: http https'
}

@test "libcurl checks server certificates: a trusted CA passes, an unknown one fails" {
	need curl sysroot/lib/libcurl.a
	command -v openssl >/dev/null || fail "openssl (the host's) is needed for the test server"
	build_client
	# A CA and a server certificate for localhost.
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=nestbox-test-ca \
		-keyout "$TMP/ca.key" -out "$TMP/ca.crt" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout "$TMP/srv.key" -out "$TMP/srv.csr" 2>/dev/null
	printf 'subjectAltName=DNS:localhost\n' >"$TMP/ext"
	openssl x509 -req -in "$TMP/srv.csr" -CA "$TMP/ca.crt" -CAkey "$TMP/ca.key" -CAcreateserial \
		-days 2 -extfile "$TMP/ext" -out "$TMP/srv.crt" 2>/dev/null
	mkdir -p "$TMP/www"
	printf '{"hostname": "nestbox-test"}' >"$TMP/www/hostname"
	# openssl s_server -WWW serves files from its working directory.
	local port=$((20000 + RANDOM % 20000)) pid i
	(cd "$TMP/www" && exec openssl s_server -quiet -accept "127.0.0.1:$port" -cert "$TMP/srv.crt" \
		-key "$TMP/srv.key" -WWW) >/dev/null 2>&1 3>&- &
	pid=$!
	for i in $(seq 50); do
		(exec 9<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
		sleep 0.1
	done
	run "$TMP/client" "https://localhost:$port/hostname" "$TMP/ca.crt"
	local good_status=$status good_output=$output
	run "$TMP/client" "https://localhost:$port/hostname" "$PKG/ca-certificates/rootfs/etc/ssl/certs/ca-certificates.crt"
	local bad_status=$status bad_output=$output
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	[ "$good_status" -eq 0 ] && [ "$good_output" = "hostname: nestbox-test" ] ||
		fail "with the test CA: $good_output"
	[ "$bad_status" -ne 0 ] && [[ $bad_output == *"SSL peer certificate or SSH remote key was not OK"* ]] ||
		fail "with Mozilla's bundle the test server must be refused, got: $bad_output"
}

# --- iptables and dnsmasq at work, in network namespaces of their own ---------

netns_setup() {
	[ "$(id -u)" = 0 ] || skip "needs root for network namespaces"
	command -v ip >/dev/null || skip "needs iproute2's ip"
	NS=nbtest-$$-$BATS_TEST_NUMBER
	ip netns add "$NS-srv"
	ip netns add "$NS-cli"
}

teardown() {
	if [ -n "${NS:-}" ]; then
		[ -n "${DNSMASQ_PID:-}" ] && kill "$DNSMASQ_PID" 2>/dev/null
		ip netns del "$NS-srv" 2>/dev/null
		ip netns del "$NS-cli" 2>/dev/null
	fi
	return 0
}

@test "iptables-restore loads a NAT and a filter table atomically (in a network namespace)" {
	need iptables rootfs/usr/sbin/iptables-restore
	netns_setup
	local d=$PKG/iptables/rootfs/usr/sbin
	run ip netns exec "$NS-srv" "$d/iptables-restore" <<'EOF'
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:NESTBOX-POST - [0:0]
:NESTBOX-DNAT - [0:0]
-A PREROUTING -j NESTBOX-DNAT
-A POSTROUTING -j NESTBOX-POST
-A NESTBOX-POST -s 192.168.122.0/24 ! -d 192.168.122.0/24 -j MASQUERADE
-A NESTBOX-DNAT -i eth0 -p tcp --dport 2222 -j DNAT --to-destination 192.168.122.10:22
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -i virbr0 -d 169.254.169.254 -j DROP
-A INPUT -i virbr0 -p udp --dport 67 -j ACCEPT
-A INPUT -i virbr0 -p udp --dport 53 -j ACCEPT
-A INPUT -i virbr0 -j REJECT --reject-with icmp-port-unreachable
-A FORWARD -i virbr0 -d 169.254.169.254 -j DROP
-A FORWARD -i virbr0 -j ACCEPT
-A FORWARD -o virbr0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
EOF
	assert_success
	run ip netns exec "$NS-srv" "$d/iptables-save"
	assert_success
	assert_line -- '-A NESTBOX-POST -s 192.168.122.0/24 ! -d 192.168.122.0/24 -j MASQUERADE'
	assert_line -- '-A NESTBOX-DNAT -i eth0 -p tcp -m tcp --dport 2222 -j DNAT --to-destination 192.168.122.10:22'
	assert_line -- '-A FORWARD -o virbr0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT'
	# A broken ruleset changes nothing.
	run ip netns exec "$NS-srv" "$d/iptables-restore" <<'EOF'
*filter
:INPUT ACCEPT [0:0]
-A INPUT -j NO-SUCH-CHAIN
COMMIT
EOF
	assert_failure
	run ip netns exec "$NS-srv" "$d/iptables-save" -t filter
	assert_line -- '-A INPUT -d 169.254.169.254/32 -i virbr0 -j DROP'
}

@test "dnsmasq hands out a DHCP lease (with a static one) on a bridge (in network namespaces)" {
	need dnsmasq rootfs/usr/sbin/dnsmasq
	need busybox rootfs/bin/busybox
	netns_setup
	local udhcpc
	"$PKG/busybox/rootfs/bin/busybox" --list | grep -qx udhcpc ||
		fail "out/pkg/busybox's busybox has no udhcpc"
	# srv: bridge virbr0 192.168.122.1/24 with one end of a veth; cli: the
	# other end, like a guest's tap.
	ip -n "$NS-srv" link add virbr0 type bridge
	ip -n "$NS-srv" addr add 192.168.122.1/24 dev virbr0
	ip -n "$NS-srv" link set virbr0 up
	ip -n "$NS-srv" link add vnet0 type veth peer name eth0 netns "$NS-cli"
	ip -n "$NS-srv" link set vnet0 master virbr0 up
	ip -n "$NS-cli" link set eth0 address 52:54:00:12:34:56 up
	ip -n "$NS-srv" link set lo up
	ip -n "$NS-cli" link set lo up
	ip netns exec "$NS-srv" "$PKG/dnsmasq/rootfs/usr/sbin/dnsmasq" --keep-in-foreground --no-resolv \
		--no-hosts --conf-file=/dev/null --interface=virbr0 --bind-interfaces --except-interface=lo \
		--dhcp-range=192.168.122.2,192.168.122.254,255.255.255.0,1h \
		--dhcp-host=52:54:00:12:34:56,192.168.122.10,guest1 \
		--dhcp-leasefile="$TMP/leases" --pid-file="$TMP/dnsmasq.pid" --user=root --group=root \
		--log-facility="$TMP/dnsmasq.log" --log-dhcp 3>&- &
	DNSMASQ_PID=$!
	# ready once its DHCP socket is bound, not after a guessed pause
	local n
	for n in $(seq 100); do
		kill -0 "$DNSMASQ_PID" 2>/dev/null || fail "dnsmasq did not start: $(cat "$TMP/dnsmasq.log" 2>/dev/null)"
		ip netns exec "$NS-srv" ss -Hlun 'sport = :67' | grep -q . && break
		sleep 0.1
	done
	ip netns exec "$NS-srv" ss -Hlun 'sport = :67' | grep -q . || fail "dnsmasq never bound port 67"
	# -q: quit after the lease; -n: fail if none; the default script is
	# replaced by one that prints what it got.
	printf '#!/bin/sh\n[ "$1" = bound ] && echo "lease $ip $subnet $router $hostname"\nexit 0\n' >"$TMP/script"
	chmod +x "$TMP/script"
	run timeout 20 ip netns exec "$NS-cli" "$PKG/busybox/rootfs/bin/busybox" udhcpc -i eth0 -q -n -t 5 -T 1 \
		-s "$TMP/script" -O hostname
	assert_success
	assert_line --regexp '^lease 192\.168\.122\.10 255\.255\.255\.0 192\.168\.122\.1'
	grep -q '52:54:00:12:34:56 192.168.122.10 guest1' "$TMP/leases" ||
		fail "no lease in dnsmasq's lease file: $(cat "$TMP/leases")"
}

@test "qemu-system-x86_64 attaches a guest's virtio-net-pci to a tap device (in a network namespace)" {
	need qemu rootfs/usr/bin/qemu-system-x86_64
	need seabios rootfs/usr/share/qemu/bios-256k.bin
	netns_setup
	ip -n "$NS-srv" tuntap add dev tap0 mode tap
	ip -n "$NS-srv" link set tap0 up
	local serial=$TMP/serial.log pid i
	make_boot_disk "$TMP/boot.img"
	: >"$serial"
	ip netns exec "$NS-srv" "$QEMU" -machine q35 -accel tcg -m 64 -nodefaults -display none \
		-L "$PKG/qemu/rootfs/usr/share/qemu" -L "$PKG/seabios/rootfs/usr/share/qemu" \
		-netdev tap,id=n0,ifname=tap0,script=no,downscript=no \
		-device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:57,romfile= \
		-drive file="$TMP/boot.img",format=raw,if=none,id=d0 -device virtio-blk-pci,drive=d0,romfile= \
		-serial file:"$serial" 2>"$TMP/qemu.err" 3>&- &
	pid=$!
	for i in $(seq 60); do
		grep -q NESTBOX-BOOT-OK "$serial" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.5
	done
	# The tap is in use by QEMU while it runs.
	run ip -n "$NS-srv" -d link show tap0
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	grep -q NESTBOX-BOOT-OK "$serial" || fail "guest did not boot with a tap NIC: $(cat "$TMP/qemu.err")"
	assert_output --partial "LOWER_UP"
}

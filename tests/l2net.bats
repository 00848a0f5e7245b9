# The L2 network's generated files against the image's own tools: the
# iptables rulesets (tests/unit/golden/firewall-*.rules, which the unit tests
# prove are what firewall.c writes) load with the image's static
# iptables-restore, and dnsmasq accepts its config and hands a guest a lease.
# Everything happens in network namespaces made here and deleted in teardown.
load helpers

GOLDEN=$TOP/tests/unit/golden
XT=$OUT/rootfs/usr/sbin/xtables-legacy-multi
DNSMASQ=$OUT/rootfs/usr/sbin/dnsmasq
BUSYBOX=$OUT/rootfs/bin/busybox
NBRA=$OUT/l2-guest/rootfs/usr/bin/nbra

setup() {
	[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces)"
	command -v ip >/dev/null || skip "no ip(8)"
	[ -x "$XT" ] && [ -x "$DNSMASQ" ] && [ -x "$BUSYBOX" ] || skip "no image root filesystem (make)"
	L1=nbl2$$ GUEST=nbl2g$$
	ip netns add "$L1" || skip "can not make a network namespace"
	ip netns add "$GUEST"
	# the L1: virbr0 192.168.122.1/24, and eth0 (a veth: no dummy module on every host)
	ip -n "$L1" link set lo up
	ip -n "$L1" link add virbr0 type bridge
	ip -n "$L1" addr add 192.168.122.1/24 dev virbr0
	ip -n "$L1" link set virbr0 up
	ip -n "$L1" link add eth0 type veth peer name eth0peer
	ip -n "$L1" addr add 10.128.0.5/32 dev eth0
	ip -n "$L1" link set eth0 up
	# a guest on virbr0
	ip -n "$L1" link add vnet0 type veth peer name eth0 netns "$GUEST"
	ip -n "$L1" link set vnet0 master virbr0 up
	ip -n "$GUEST" link set lo up
	ip -n "$GUEST" link set eth0 address 52:54:00:12:34:56 up
	# dnsmasq reads its hosts files as nobody: a directory all can search
	RUN=$(mktemp -d /tmp/nbl2.XXXXXX)
	chmod 755 "$RUN"
}

teardown() {
	[ -n "${NC_PID:-}" ] && kill "$NC_PID" 2>/dev/null && wait "$NC_PID" 2>/dev/null
	[ -n "${DNSMASQ_PID:-}" ] && kill "$DNSMASQ_PID" 2>/dev/null && wait "$DNSMASQ_PID" 2>/dev/null
	[ -n "${L1:-}" ] && ip netns del "$L1" 2>/dev/null
	[ -n "${GUEST:-}" ] && ip netns del "$GUEST" 2>/dev/null
	[ -n "${RUN:-}" ] && rm -rf "$RUN"
	true
}

# The rules of one table as iptables-save prints them (it orders the tables
# by when the kernel made them; the rules within a table are ours in order).
# Counters read 0 (the kernel may send an IGMP report on virbr0 meanwhile).
table() {
	sed -n "/^\*$1\$/,/^COMMIT\$/p" | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]$/[0:0]/'
}

@test "every generated ruleset loads with the image's iptables-restore and saves back the same" {
	for f in "$GOLDEN"/firewall-*.rules; do
		run ip netns exec "$L1" "$XT" iptables-restore "$f"
		[ "$status" -eq 0 ] || { echo "${f##*/}: $output"; false; }
		saved=$(ip netns exec "$L1" "$XT" iptables-save)
		for t in filter nat mangle; do
			diff -u <(table "$t" <"$f") <(table "$t" <<<"$saved") ||
				{ echo "${f##*/}: table $t differs"; false; }
		done
	done
	# the default one, chain by chain
	run ip netns exec "$L1" "$XT" iptables-restore "$GOLDEN/firewall-default.rules"
	assert_success
	run ip netns exec "$L1" "$XT" iptables-save
	for c in NESTBOX_INP NESTBOX_OUT NESTBOX_FWX NESTBOX_FWI NESTBOX_FWO NESTBOX_PRT \
	    NESTBOX_DNAT NESTBOX_MSS; do
		assert_output --partial ":$c - [0:0]"
	done
	assert_output --partial "-A INPUT -j NESTBOX_INP"
	assert_output --partial "-A POSTROUTING -j NESTBOX_PRT"
	assert_output --partial "--to-ports 1024-65535"
}

@test "a ruleset that fails to load leaves the loaded one as it was" {
	run ip netns exec "$L1" "$XT" iptables-restore "$GOLDEN/firewall-default.rules"
	assert_success
	before=$(ip netns exec "$L1" "$XT" iptables-save | grep -v '^#')
	sed 's/-j CHECKSUM --checksum-fill/-j NO_SUCH_TARGET/' "$GOLDEN/firewall-forwards.rules" \
		>"$BATS_TEST_TMPDIR/bad.rules"
	run ip netns exec "$L1" "$XT" iptables-restore "$BATS_TEST_TMPDIR/bad.rules"
	assert_failure
	# mangle is the first table: nothing was committed
	after=$(ip netns exec "$L1" "$XT" iptables-save | grep -v '^#')
	[ "$before" = "$after" ]
}

@test "every generated IPv6 ruleset loads with the image's ip6tables-restore and saves back the same" {
	for f in "$GOLDEN"/firewall6*.rules; do
		run ip netns exec "$L1" "$XT" ip6tables-restore "$f"
		[ "$status" -eq 0 ] || { echo "${f##*/}: $output"; false; }
		saved=$(ip netns exec "$L1" "$XT" ip6tables-save)
		diff -u <(table filter <"$f") <(table filter <<<"$saved") ||
			{ echo "${f##*/}: table filter differs"; false; }
	done
}

# counter CMD CHAIN: the packets the last rule of CHAIN (its DROP) has seen.
counter() {
	ip netns exec "$L1" "$XT" "$1" -t "${3:-filter}" -L "$2" -v -n -x | awk 'END { print $1 }'
}

# A hostile guest on a guest's tap (nbtap0: its MAC and 192.168.122.10 in
# firewall-ports.rules): the generated rulesets against the host's kernel,
# br_netfilter passing the bridged frames through them as in the image.
@test "the generated rulesets against a hostile guest on its tap: its own MAC and address only, no RA taken, no IPv6 to the L1" {
	[ -x "$NBRA" ] || skip "no $NBRA (make out/l2-guest.img)"
	ip -n "$L1" link set vnet0 down
	ip -n "$L1" link set vnet0 name nbtap0
	ip -n "$L1" link set nbtap0 master virbr0 up
	[ -e /proc/sys/net/bridge ] || modprobe br_netfilter 2>/dev/null || skip "no br_netfilter"
	ip netns exec "$L1" sh -c 'echo 1 >/proc/sys/net/bridge/bridge-nf-call-iptables &&
		echo 1 >/proc/sys/net/bridge/bridge-nf-call-ip6tables'
	ip -n "$GUEST" addr add 192.168.122.10/24 dev eth0
	for _ in $(seq 100); do
		ip -n "$GUEST" -6 addr show dev eth0 scope link | grep -q tentative || break
		sleep 0.1
	done
	for _ in $(seq 100); do
		ip -n "$L1" -6 addr show dev virbr0 scope link | grep -q 'inet6' &&
			! ip -n "$L1" -6 addr show dev virbr0 | grep -q tentative && break
		sleep 0.1
	done
	# Without the rulesets, the guest's RA gives the L1 an address from its prefix.
	run ip netns exec "$GUEST" "$NBRA" eth0
	assert_success
	for _ in $(seq 50); do ip -n "$L1" -6 addr show | grep -q 2001:db8:bad && break; sleep 0.1; done
	run ip -n "$L1" -6 addr show
	assert_output --partial 2001:db8:bad
	ip -n "$L1" -6 addr flush dev virbr0 scope global
	ip -n "$L1" -6 route flush proto ra 2>/dev/null || true

	run ip netns exec "$L1" "$XT" iptables-restore "$GOLDEN/firewall-ports.rules"
	assert_success
	run ip netns exec "$L1" "$XT" ip6tables-restore "$GOLDEN/firewall6.rules"
	assert_success
	# With them: the RA is dropped on its way in (the counter says it arrived)
	before=$(ip netns exec "$L1" "$XT" ip6tables -L NESTBOX_INP -v -n -x | awk '/DROP/ { print $1 }')
	run ip netns exec "$GUEST" "$NBRA" eth0
	assert_success
	for _ in $(seq 50); do
		now=$(ip netns exec "$L1" "$XT" ip6tables -L NESTBOX_INP -v -n -x | awk '/DROP/ { print $1 }')
		[ "$now" -gt "$before" ] && break
		sleep 0.1
	done
	[ "$now" -gt "$before" ]
	run ip -n "$L1" -6 addr show
	refute_output --partial 2001:db8:bad
	run ip -n "$L1" -6 route show
	refute_output --partial default
	# and IPv6 from the guest reaches nothing on the L1
	lladdr=$(ip -n "$L1" -6 addr show dev virbr0 scope link | awk '/inet6/ { sub("/.*", "", $2); print $2 }')
	run ip netns exec "$GUEST" timeout 5 "$BUSYBOX" ping -6 -c 1 -W 2 "$lladdr%eth0"
	assert_failure

	# IPv4 from its own MAC and address: in
	run ip netns exec "$GUEST" timeout 5 "$BUSYBOX" ping -c 1 -W 2 192.168.122.1
	assert_success
	# from another address of the subnet: dropped
	ip -n "$GUEST" addr add 192.168.122.11/24 dev eth0
	run ip netns exec "$GUEST" timeout 5 "$BUSYBOX" ping -c 1 -W 2 -I 192.168.122.11 192.168.122.1
	assert_failure
	spf=$(ip netns exec "$L1" "$XT" iptables -t mangle -L NESTBOX_SPF -v -n -x | awk '$3 == "DROP" { print $1 }')
	[ "$spf" -gt 0 ]
	# from another MAC: dropped
	ip -n "$GUEST" link set eth0 address 52:54:00:99:99:99
	run ip netns exec "$GUEST" timeout 5 "$BUSYBOX" ping -c 1 -W 2 192.168.122.1
	assert_failure
	# its own again: in
	ip -n "$GUEST" link set eth0 address 52:54:00:12:34:56
	ip -n "$L1" neigh flush dev virbr0
	run ip netns exec "$GUEST" timeout 5 "$BUSYBOX" ping -c 1 -W 2 192.168.122.1
	assert_success
}

dnsmasq_conf() {
	sed "s|/run/nestbox|$RUN|g" "$GOLDEN/$1" >"$RUN/dnsmasq.conf"
	cp "$GOLDEN/dnsmasq.hosts" "$RUN/dnsmasq.hosts"
	chmod 644 "$RUN"/*
}

@test "the image's dnsmasq accepts both generated configs" {
	for c in dnsmasq-default.conf dnsmasq-override.conf; do
		dnsmasq_conf "$c"
		run "$DNSMASQ" --test --conf-file="$RUN/dnsmasq.conf"
		[ "$status" -eq 0 ] || { echo "$c: $output"; false; }
		assert_output --partial "syntax check OK"
	done
}

@test "behind the ruleset, dnsmasq leases a guest its static address over virbr0 and answers DNS" {
	run ip netns exec "$L1" "$XT" iptables-restore "$GOLDEN/firewall-default.rules"
	assert_success
	dnsmasq_conf dnsmasq-default.conf
	echo "192.168.122.77 probe.test" >"$RUN/hosts"
	chmod 644 "$RUN/hosts"
	echo "addn-hosts=$RUN/hosts" >>"$RUN/dnsmasq.conf"
	ip netns exec "$L1" "$DNSMASQ" --keep-in-foreground --conf-file="$RUN/dnsmasq.conf" \
		2>"$RUN/dnsmasq.log" &
	DNSMASQ_PID=$!
	for _ in $(seq 50); do grep -q 'read .*dnsmasq.hosts' "$RUN/dnsmasq.log" && break; sleep 0.1; done
	cat >"$RUN/udhcpc.sh" <<-EOF
	#!/bin/sh
	[ "\$1" = bound ] && echo "ip=\$ip mask=\$mask router=\$router dns=\$dns mtu=\$mtu" >"$RUN/bound"
	exit 0
	EOF
	chmod 755 "$RUN/udhcpc.sh"
	run ip netns exec "$GUEST" timeout 20 "$BUSYBOX" udhcpc -f -q -n -i eth0 -t 5 -T 1 \
		-O mtu -s "$RUN/udhcpc.sh"
	[ "$status" -eq 0 ] || { echo "$output"; cat "$RUN/dnsmasq.log"; false; }
	run cat "$RUN/bound" "$RUN/dnsmasq.log"
	assert_line "ip=192.168.122.10 mask=24 router=192.168.122.1 dns=192.168.122.1 mtu=1460"
	run cat "$RUN/dnsmasq.leases"
	assert_output --partial "52:54:00:12:34:56 192.168.122.10 web"
	# DNS on 192.168.122.1 from the guest, through the firewall
	ip -n "$GUEST" addr add 192.168.122.10/24 dev eth0
	run ip netns exec "$GUEST" timeout 10 "$BUSYBOX" nslookup -type=a probe.test 192.168.122.1
	assert_success
	assert_output --partial "192.168.122.77"
	# a listening L1 port is closed to the guest, and so is the metadata
	# server's address, here the L1's own: rejected, not left to time out
	ip -n "$L1" addr add 169.254.169.254/32 dev lo
	ip netns exec "$L1" timeout 20 "$BUSYBOX" nc -lk -p 2222 -e /bin/true &
	NC_PID=$!
	ip -n "$GUEST" route add default via 192.168.122.1
	for _ in $(seq 50); do ip netns exec "$L1" ss -ltn | grep -q ':2222 ' && break; sleep 0.1; done
	run ip netns exec "$L1" timeout 5 "$BUSYBOX" nc -w 3 127.0.0.1 2222 </dev/null
	assert_success		# it does listen
	for dst in 192.168.122.1 10.128.0.5 169.254.169.254; do
		run ip netns exec "$GUEST" timeout 10 "$BUSYBOX" nc -w 3 "$dst" 2222 </dev/null
		[ "$status" -ne 0 ] && [ "$status" -ne 124 ] || { echo "$dst: $status $output"; false; }
	done
}

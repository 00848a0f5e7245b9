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
table() {
	sed -n "/^\*$1\$/,/^COMMIT\$/p" | grep -v '^#'
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

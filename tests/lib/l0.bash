# A fake GCE "L0" for one test, made of network namespaces that the test
# creates and removes; no traffic leaves them.
#
#   nb<id>l0    the VPC's gateway: bridge br0 with 10.128.0.1/20 and
#               169.254.169.254, the L1's tap (tap0) on it, dnsmasq handing out
#               GCE's lease (/32, option 121, MTU 1460, DNS and NTP at
#               169.254.169.254) and resolving metadata.google.internal, the
#               metadata emulator on 169.254.169.254:80
#   nb<id>out   an "outside" host, 203.0.113.10, with an HTTP server on :80
#   nb<id>peer  a peer VM on the same VPC subnet, 10.128.0.3/32
#
# Namespace names carry the test's process id: l0_gc removes those whose
# process is gone, so even a test killed with SIGKILL leaves nothing behind
# for long, and l0_start calls it first.

L0_SUBNET_GW=10.128.0.1
L0_VM_IP=10.128.0.2
L0_PEER_IP=10.128.0.3
L0_ALIAS_RANGE=10.128.16.0/28  # as in tests/fixtures/metadata/basic.json
L0_OUTSIDE_IP=203.0.113.10
L0_METADATA_IP=169.254.169.254
L0_MTU=1460

# l0_gc: delete the namespaces (and their processes) of tests that are gone.
l0_gc() {
	local ns pid
	for ns in $(ip netns list | awk '{ print $1 }' | grep -E '^nb[0-9]+(l0|out|peer|vm)$'); do
		pid=${ns#nb}
		pid=${pid%%[a-z]*}
		kill -0 "$pid" 2>/dev/null && continue
		_l0_del_ns "$ns"
	done
}

_l0_del_ns() {
	local p
	for p in $(ip netns pids "$1" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
	ip netns del "$1" 2>/dev/null || true
}

# l0_start DOCUMENT: make the L0 with the metadata emulator serving DOCUMENT
# (a JSON file). L0_LEASE sets the DHCP lease time (dnsmasq's syntax, at
# least 2m; GCE's 24h by default). Sets L0_NS, L0_OUT_NS, L0_PEER_NS, L0_TAP, L0_DIR,
# L0_CONTROL (the emulator's control socket).
l0_start() {
	local document=$1
	l0_gc
	L0_ID=nb$$
	L0_NS=${L0_ID}l0 L0_OUT_NS=${L0_ID}out L0_PEER_NS=${L0_ID}peer
	L0_TAP=tap0
	L0_DIR=${L0_DIR:-$BATS_TEST_TMPDIR/l0}
	mkdir -p "$L0_DIR"
	L0_CONTROL=$L0_DIR/metadata.sock
	local n
	for n in "$L0_NS" "$L0_OUT_NS" "$L0_PEER_NS"; do
		ip netns add "$n" || return 1
		ip -n "$n" link set lo up
	done

	# The gateway: a bridge for the VPC subnet, forwarding to the outside.
	ip -n "$L0_NS" link add br0 type bridge
	ip -n "$L0_NS" addr add "$L0_SUBNET_GW/20" dev br0
	ip -n "$L0_NS" addr add "$L0_METADATA_IP/32" dev br0
	ip -n "$L0_NS" link set br0 mtu "$L0_MTU" up
	ip -n "$L0_NS" tuntap add "$L0_TAP" mode tap
	ip -n "$L0_NS" link set "$L0_TAP" mtu "$L0_MTU" master br0 up
	ip netns exec "$L0_NS" sysctl -qw net.ipv4.ip_forward=1
	# GCE routes an instance's alias ranges to it.
	ip -n "$L0_NS" route add "$L0_ALIAS_RANGE" via "$L0_VM_IP" dev br0 onlink

	# The outside host, on a link of its own.
	ip link add "${L0_ID}o0" netns "$L0_NS" type veth peer name eth0 netns "$L0_OUT_NS"
	ip -n "$L0_NS" link set "${L0_ID}o0" name out0
	ip -n "$L0_NS" addr add 203.0.113.1/24 dev out0
	ip -n "$L0_NS" link set out0 up
	ip -n "$L0_OUT_NS" addr add "$L0_OUTSIDE_IP/24" dev eth0
	ip -n "$L0_OUT_NS" link set eth0 up
	ip -n "$L0_OUT_NS" route add default via 203.0.113.1

	# The peer VM: a /32 behind the gateway, as GCE sets VMs up.
	ip link add "${L0_ID}p0" netns "$L0_NS" type veth peer name eth0 netns "$L0_PEER_NS"
	ip -n "$L0_NS" link set "${L0_ID}p0" name peer0
	ip -n "$L0_NS" link set peer0 mtu "$L0_MTU" master br0 up
	ip -n "$L0_PEER_NS" addr add "$L0_PEER_IP/32" dev eth0
	ip -n "$L0_PEER_NS" link set eth0 mtu "$L0_MTU" up
	ip -n "$L0_PEER_NS" route add "$L0_SUBNET_GW/32" dev eth0
	ip -n "$L0_PEER_NS" route add default via "$L0_SUBNET_GW" dev eth0

	# DHCP as GCE's: the VM's address as a /32, the gateway reachable through
	# its own /32 route (option 121), MTU 1460, DNS and NTP at the metadata
	# server; and a resolver that knows metadata.google.internal. GCE answers
	# at once: no ping of the address before the offer (3 s in dnsmasq).
	# Each daemon runs in a subshell: not a job of the test's shell.
	(ip netns exec "$L0_NS" dnsmasq --keep-in-foreground --no-resolv --no-hosts --bind-interfaces \
		--interface=br0 --except-interface=lo --listen-address="$L0_SUBNET_GW,$L0_METADATA_IP" \
		--pid-file="$L0_DIR/dnsmasq.pid" --dhcp-leasefile="$L0_DIR/dnsmasq.leases" \
		--log-facility="$L0_DIR/dnsmasq.log" --log-dhcp --log-queries \
		--dhcp-range="$L0_VM_IP,$L0_VM_IP,255.255.240.0,${L0_LEASE:-24h}" \
		--no-ping \
		--dhcp-option=option:netmask,255.255.255.255 \
		--dhcp-option=option:router,"$L0_SUBNET_GW" \
		--dhcp-option=option:classless-static-route,"$L0_SUBNET_GW/32,0.0.0.0,0.0.0.0/0,$L0_SUBNET_GW" \
		--dhcp-option=option:mtu,"$L0_MTU" \
		--dhcp-option=option:dns-server,"$L0_METADATA_IP" \
		--dhcp-option=option:ntp-server,"$L0_METADATA_IP" \
		--dhcp-option=option:domain-search,c.nestbox-test.internal,google.internal \
		--host-record=metadata.google.internal,"$L0_METADATA_IP" --filter-AAAA \
		>"$L0_DIR/dnsmasq.out" 2>&1 &)

	# The metadata emulator, and the outside host's web server.
	(ip netns exec "$L0_NS" "$TOP/scripts/gce-metadata-server" --listen "$L0_METADATA_IP:80" \
		--control "$L0_CONTROL" --document "$document" --log "$L0_DIR/metadata.log" \
		>"$L0_DIR/metadata.out" 2>&1 &)
	mkdir -p "$L0_DIR/www"
	echo "outside says hello" >"$L0_DIR/www/index.html"
	(ip netns exec "$L0_OUT_NS" python3 -m http.server --bind "$L0_OUTSIDE_IP" --directory "$L0_DIR/www" 80 \
		>"$L0_DIR/outside.log" 2>&1 &)

	_l0_wait "metadata emulator" 10 test -S "$L0_CONTROL" || return 1
	_l0_wait "dnsmasq" 10 test -s "$L0_DIR/dnsmasq.pid" || return 1
	_l0_wait "outside web server" 10 ip netns exec "$L0_OUT_NS" \
		python3 -c "import socket; socket.create_connection(('$L0_OUTSIDE_IP', 80), 1)" || return 1
}

# _l0_wait WHAT TIMEOUT COMMAND...: poll COMMAND until it succeeds.
_l0_wait() {
	local what=$1 deadline=$((SECONDS + $2))
	shift 2
	until "$@" 2>/dev/null; do
		if [ $SECONDS -ge "$deadline" ]; then
			echo "L0: $what did not come up"
			tail -n 5 "$L0_DIR"/*.out "$L0_DIR"/*.log 2>/dev/null
			return 1
		fi
		sleep 0.1
	done
}

# l0_stop: remove the L0 and everything that runs in it.
l0_stop() {
	local n
	for n in "${L0_NS:-}" "${L0_OUT_NS:-}" "${L0_PEER_NS:-}"; do
		[ -n "$n" ] && _l0_del_ns "$n"
	done
	L0_NS= L0_OUT_NS= L0_PEER_NS=
}

# l0_metadata METHOD PATH [BODY]: talk to the emulator's control interface.
l0_metadata() {
	curl -sS --fail-with-body --unix-socket "$L0_CONTROL" -X "$1" ${3:+--data-binary "$3"} "http://l0$2"
}

# l0_outside COMMAND...: run COMMAND on the outside host; l0_peer: on the peer.
l0_outside() { ip netns exec "$L0_OUT_NS" "$@"; }
l0_peer() { ip netns exec "$L0_PEER_NS" "$@"; }

# l0_vm_net: the QEMU arguments that put a VM's virtio-net NIC on the L0's tap.
l0_vm_net() {
	echo "-netdev tap,id=net0,ifname=$L0_TAP,script=no,downscript=no -device virtio-net-pci,netdev=net0,mac=42:01:0a:80:00:02,romfile="
}

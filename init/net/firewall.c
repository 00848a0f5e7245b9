/*
 * The firewall: one iptables-restore document for the mangle, nat and filter
 * tables, generated whole from the network and the port forwards.
 *
 * It is libvirt's NAT network (src/network/network_iptables.c and its test
 * data, tests/networkxml2firewalldata/nat-default-linux.args) in chains of
 * our own, each hanging off a built-in chain by a single jump: filter
 * NESTBOX_INP (INPUT), NESTBOX_OUT (OUTPUT), NESTBOX_FWX, NESTBOX_FWI,
 * NESTBOX_FWO (FORWARD, in that order), nat and mangle NESTBOX_PRT
 * (POSTROUTING). Ours in addition:
 *
 * - nat NESTBOX_DNAT (PREROUTING and OUTPUT) holds the port forwards and
 *   alias IPs; libvirt's PRT is a POSTROUTING chain, where DNAT can not be.
 *   FWI lets the DNATed connections in; a forward reached from a guest
 *   through the L1's address (hairpin) is masqueraded on virbr0 so the
 *   reply comes back the same way. A whole alias IP is 1:1 NAT: its guest's
 *   outgoing connections leave from the alias IP too.
 * - mangle NESTBOX_MSS (FORWARD) clamps the TCP MSS to the path MTU.
 * - Guests can not reach 169.254.0.0/16, where the metadata server hands out
 *   the L1's service-account token (FWO, and INPUT as well), nor any L1 port
 *   but DHCP (udp 67) and DNS (53) on virbr0. libvirt also opens tcp 67 and
 *   tcp 68, which no DHCP uses; we do not.
 * - Nothing on eth0 is open: INPUT accepts replies (ESTABLISHED,RELATED),
 *   ICMP and the DHCP client's replies (udp 67 -> 68), and drops the rest;
 *   forwards are DNATed before INPUT and pass through FORWARD. INPUT and
 *   FORWARD drop by policy what our chains do not accept.
 *
 * PID 1 owns the whole ruleset, so the document is loaded without
 * --noflush: each table is replaced in one commit (legacy iptables-restore
 * swaps a table with one setsockopt), no stale rule survives, and nothing
 * has to be deleted first. A table that fails to load is not committed;
 * firewall_apply() then loads the last good document again, so the tables
 * committed before it are rolled back as well.
 *
 * Rules are written in iptables-save's own form, so that a save of the
 * loaded ruleset reads the same (tests/l2net.bats checks it).
 *
 * Guests are not trusted (docs/security.md, "A hostile guest"):
 *
 * - Anti-spoofing: a guest sends only from its own MAC and, over IPv4, only
 *   from its own address (static, or dnsmasq's lease once it is known; DHCP
 *   from 0.0.0.0 always). The image has legacy iptables only: no ebtables,
 *   arptables or nft (libnftnl is not obtainable). So br_netfilter passes
 *   the bridged IPv4 and IPv6 frames through iptables, where the physdev
 *   match names the guest's tap and the mac match its source MAC: mangle
 *   PREROUTING sends everything from an nbtap+ port to NESTBOX_SPF, which
 *   lets each tap's own (MAC, address) pair through and drops the rest.
 *   PREROUTING sees a guest's packets once, whether they are bridged to
 *   another guest, routed out or for the L1. A tap that the ruleset does
 *   not know yet (a load failed, or is late) sends nothing: closed by
 *   default. iptables never sees ARP: the tap's bridge port is locked
 *   instead (bridge.c), so a frame of any kind from another MAC is dropped.
 * - IPv6: the L1 has no IPv6 business with its guests. virbr0 and the taps
 *   have IPv6 disabled and accept no router advertisement (bridge.c), and
 *   firewall6_rules() drops what guests send to the L1 over IPv6 and every
 *   forwarded IPv6 packet, bridged ones between guests included. eth0's
 *   IPv6 is left as it is.
 * - PID 1's own traffic to 169.254.0.0/16 never meets a DNAT: nat OUTPUT
 *   jumps to NESTBOX_DNAT for other destinations only. A forward whose
 *   address is in 169.254.0.0/16, 127.0.0.0/8 or the L2 subnet, or a whole
 *   alias IP that is the L1's own address, is skipped with a comment
 *   (guests_check_net() refuses them first, naming the field).
 * - Of the L1's own users, the guests' QEMUs and nestbox-fetch-http (uid
 *   901, plain http(s) downloads) may not reach 169.254.0.0/16 at all;
 *   dnsmasq (nobody) only the metadata server's DNS, port 53.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "net/net.h"
#include "net/net-internal.h"

#define REJECT	"-j REJECT --reject-with icmp-port-unreachable"
#define MD_SERVER	"169.254.169.254/32"

static const char *const protoname[] = {
	[FWD_TCP] = "tcp", [FWD_UDP] = "udp", [FWD_ALL] = "all"
};

/* A forward checked: nothing but numbers reach the text. */
struct fwd {
	enum fwd_proto	 proto;
	int		 any;		/* match_ip and eth0 unknown: -i eth0 */
	int		 skip;		/* not in the ruleset: */
	const char	*why;		/* why, in the comment */
	uint32_t	 match, guest;
	uint16_t	 port, gport;
};

/* Checks a forward; a guest outside the subnet (after a change of it) is marked skip. */
static int
fwd_check(const struct netconf *nc, const struct forward *f, uint32_t eth0,
    struct fwd *out)
{
	memset(out, 0, sizeof(*out));
	if (f->proto != FWD_TCP && f->proto != FWD_UDP && f->proto != FWD_ALL)
		goto bad;
	out->proto = f->proto;
	if (f->match_ip != 0)
		out->match = f->match_ip;
	else if (eth0 != 0)
		out->match = eth0;
	else
		out->any = 1;
	if ((out->guest = f->guest_ip) == 0)
		goto bad;
	if (f->proto == FWD_ALL) {
		if (out->any || f->match_ip == 0)
			goto bad;
	} else {
		if (f->port == 0)
			goto bad;
		out->port = f->port;
		out->gport = f->guest_port ? f->guest_port : f->port;
	}
	if (!netconf_contains(nc, out->guest) || out->guest == nc->addr ||
	    out->guest == netconf_network(nc) || out->guest == netconf_broadcast(nc))
		out->why = "";		/* "not in" the subnet */
	else if (out->any)
		;
	else if ((out->match >> 16) == 0xa9fe)	/* 169.254/16: PID 1's own metadata */
		out->why = "the address is in 169.254.0.0/16";
	else if ((out->match >> 24) == 127)
		out->why = "the address is in 127.0.0.0/8";
	else if (netconf_contains(nc, out->match))
		out->why = "the address is in the L2 subnet";
	else if (f->proto == FWD_ALL && out->match == eth0)
		/* the L1's own address whole would take its DHCP and replies */
		out->why = "a whole alias IP can not be the L1's own address";
	out->skip = out->why != NULL;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

static void
add_mangle(struct text *t, const struct netconf *nc, const struct fw_port *p, size_t n)
{
	char	 a[IP4_STRLEN], mac[18];
	size_t	 i;

	text_add(t, "*mangle\n"
	    ":PREROUTING ACCEPT [0:0]\n"
	    ":INPUT ACCEPT [0:0]\n"
	    ":FORWARD ACCEPT [0:0]\n"
	    ":OUTPUT ACCEPT [0:0]\n"
	    ":POSTROUTING ACCEPT [0:0]\n"
	    ":NESTBOX_MSS - [0:0]\n"
	    ":NESTBOX_PRT - [0:0]\n"
	    ":NESTBOX_SPF - [0:0]\n"
	    "-A PREROUTING -m physdev --physdev-in " FIREWALL_TAP "+ -j NESTBOX_SPF\n"
	    "-A FORWARD -j NESTBOX_MSS\n"
	    "-A POSTROUTING -j NESTBOX_PRT\n"
	    "-A NESTBOX_MSS -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu\n"
	    "-A NESTBOX_PRT -o " NETCONF_BRIDGE " -p udp -m udp --dport 68 -j CHECKSUM --checksum-fill\n");
	for (i = 0; i < n; i++) {
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", p[i].mac[0],
		    p[i].mac[1], p[i].mac[2], p[i].mac[3], p[i].mac[4], p[i].mac[5]);
		/* an address outside the subnet (after a change of it): DHCP only */
		if (p[i].ip != 0 && netconf_contains(nc, p[i].ip) && p[i].ip != nc->addr &&
		    p[i].ip != netconf_network(nc) && p[i].ip != netconf_broadcast(nc))
			text_add(t, "-A NESTBOX_SPF -s %s/32 -m physdev --physdev-in "
			    FIREWALL_TAP "%d -m mac --mac-source %s -j RETURN\n",
			    ip4_str(p[i].ip, a), p[i].slot, mac);
		text_add(t, "-A NESTBOX_SPF -s 0.0.0.0/32 -d 255.255.255.255/32 -p udp "
		    "-m physdev --physdev-in " FIREWALL_TAP "%d -m mac --mac-source %s "
		    "-m udp --sport 68 --dport 67 -j RETURN\n", p[i].slot, mac);
	}
	text_add(t, "-A NESTBOX_SPF -j DROP\n"
	    "COMMIT\n");
}

static void
add_nat(struct text *t, const char *net, const struct fwd *f, size_t n)
{
	char	 m[IP4_STRLEN], g[IP4_STRLEN];
	size_t	 i;

	text_add(t, "*nat\n"
	    ":PREROUTING ACCEPT [0:0]\n"
	    ":INPUT ACCEPT [0:0]\n"
	    ":OUTPUT ACCEPT [0:0]\n"
	    ":POSTROUTING ACCEPT [0:0]\n"
	    ":NESTBOX_DNAT - [0:0]\n"
	    ":NESTBOX_PRT - [0:0]\n"
	    "-A PREROUTING -j NESTBOX_DNAT\n"
	    /* PID 1's own requests to the metadata server are never redirected */
	    "-A OUTPUT ! -d " FIREWALL_METADATA " -j NESTBOX_DNAT\n"
	    "-A POSTROUTING -j NESTBOX_PRT\n");
	/* ports first: a port of an alias IP can go elsewhere than the rest */
	for (i = 0; i < n; i++) {
		if (f[i].skip || f[i].proto == FWD_ALL)
			continue;
		if (f[i].any)
			text_add(t, "-A NESTBOX_DNAT -i " FIREWALL_WAN);
		else
			text_add(t, "-A NESTBOX_DNAT -d %s/32", ip4_str(f[i].match, m));
		text_add(t, " -p %s -m %s --dport %u -j DNAT --to-destination %s:%u\n",
		    protoname[f[i].proto], protoname[f[i].proto], f[i].port,
		    ip4_str(f[i].guest, g), f[i].gport);
	}
	for (i = 0; i < n; i++)
		if (!f[i].skip && f[i].proto == FWD_ALL)
			text_add(t, "-A NESTBOX_DNAT -d %s/32 -j DNAT --to-destination %s\n",
			    ip4_str(f[i].match, m), ip4_str(f[i].guest, g));
	for (i = 0; i < n && f[i].skip; i++)
		;
	if (i < n)
		text_add(t, "-A NESTBOX_PRT -s %s -d %s -o " NETCONF_BRIDGE
		    " -m conntrack --ctstate DNAT -j MASQUERADE\n", net, net);
	text_add(t, "-A NESTBOX_PRT -s %s -d 224.0.0.0/24 -j RETURN\n"
	    "-A NESTBOX_PRT -s %s -d 255.255.255.255/32 -j RETURN\n", net, net);
	for (i = 0; i < n; i++)
		if (!f[i].skip && f[i].proto == FWD_ALL)
			text_add(t, "-A NESTBOX_PRT -s %s/32 ! -d %s -j SNAT --to-source %s\n",
			    ip4_str(f[i].guest, g), net, ip4_str(f[i].match, m));
	text_add(t, "-A NESTBOX_PRT -s %s ! -d %s -p tcp -j MASQUERADE --to-ports 1024-65535\n"
	    "-A NESTBOX_PRT -s %s ! -d %s -p udp -j MASQUERADE --to-ports 1024-65535\n"
	    "-A NESTBOX_PRT -s %s ! -d %s -j MASQUERADE\n"
	    "COMMIT\n", net, net, net, net, net, net);
}

static void
add_filter(struct text *t, const char *net, const struct fwd *f, size_t n)
{
	char	 g[IP4_STRLEN];
	size_t	 i;

	text_add(t, "*filter\n"
	    ":INPUT DROP [0:0]\n"
	    ":FORWARD DROP [0:0]\n"
	    ":OUTPUT ACCEPT [0:0]\n"
	    ":NESTBOX_FWI - [0:0]\n"
	    ":NESTBOX_FWO - [0:0]\n"
	    ":NESTBOX_FWX - [0:0]\n"
	    ":NESTBOX_INP - [0:0]\n"
	    ":NESTBOX_OUT - [0:0]\n"
	    "-A INPUT -j NESTBOX_INP\n"
	    "-A FORWARD -j NESTBOX_FWX\n"
	    "-A FORWARD -j NESTBOX_FWI\n"
	    "-A FORWARD -j NESTBOX_FWO\n"
	    "-A OUTPUT -j NESTBOX_OUT\n");
	text_add(t, "-A NESTBOX_FWI -d %s -o " NETCONF_BRIDGE
	    " -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n", net);
	for (i = 0; i < n; i++) {
		if (f[i].skip)
			continue;
		text_add(t, "-A NESTBOX_FWI -d %s/32 -o " NETCONF_BRIDGE,
		    ip4_str(f[i].guest, g));
		if (f[i].proto != FWD_ALL)
			text_add(t, " -p %s -m %s --dport %u", protoname[f[i].proto],
			    protoname[f[i].proto], f[i].gport);
		text_add(t, " -m conntrack --ctstate DNAT -j ACCEPT\n");
	}
	text_add(t, "-A NESTBOX_FWI -o " NETCONF_BRIDGE " " REJECT "\n"
	    "-A NESTBOX_FWO -d " FIREWALL_METADATA " -i " NETCONF_BRIDGE " " REJECT "\n"
	    "-A NESTBOX_FWO -s %s -i " NETCONF_BRIDGE " -j ACCEPT\n"
	    "-A NESTBOX_FWO -i " NETCONF_BRIDGE " " REJECT "\n"
	    "-A NESTBOX_FWX -i " NETCONF_BRIDGE " -o " NETCONF_BRIDGE " -j ACCEPT\n", net);
	/* replies only on the interface the connection went out of */
	text_add(t, "-A NESTBOX_INP -i lo -j ACCEPT\n"
	    "-A NESTBOX_INP -d " FIREWALL_METADATA " -i " NETCONF_BRIDGE " " REJECT "\n"
	    "-A NESTBOX_INP -i " FIREWALL_WAN " -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
	    "-A NESTBOX_INP -i " NETCONF_BRIDGE " -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
	    "-A NESTBOX_INP -i " NETCONF_BRIDGE " -p udp -m udp --dport 67 -j ACCEPT\n"
	    "-A NESTBOX_INP -i " NETCONF_BRIDGE " -p udp -m udp --dport 53 -j ACCEPT\n"
	    "-A NESTBOX_INP -i " NETCONF_BRIDGE " -p tcp -m tcp --dport 53 -j ACCEPT\n"
	    "-A NESTBOX_INP -i " NETCONF_BRIDGE " -p icmp -j ACCEPT\n"
	    "-A NESTBOX_INP -i " NETCONF_BRIDGE " " REJECT "\n"
	    "-A NESTBOX_INP -i " FIREWALL_WAN " -p icmp -j ACCEPT\n"
	    "-A NESTBOX_INP -i " FIREWALL_WAN " -p udp -m udp --sport 67 --dport 68 -j ACCEPT\n"
	    "-A NESTBOX_INP -i " FIREWALL_WAN " -j DROP\n"
	    "-A NESTBOX_OUT -o " NETCONF_BRIDGE " -p udp -m udp --dport 68 -j ACCEPT\n"
	    "-A NESTBOX_OUT -o " NETCONF_BRIDGE " -p udp -m udp --dport 53 -j ACCEPT\n"
	    "-A NESTBOX_OUT -o " NETCONF_BRIDGE " -p tcp -m tcp --dport 53 -j ACCEPT\n"
	    /* the guests' QEMUs: not even they reach the metadata server */
	    "-A NESTBOX_OUT -d " FIREWALL_METADATA " -m owner --uid-owner "
	    GUEST_UID_RANGE " " REJECT "\n"
	    /* plain http(s) downloads: no token, no metadata server */
	    "-A NESTBOX_OUT -d " FIREWALL_METADATA " -m owner --uid-owner %d " REJECT "\n"
	    /* dnsmasq: the metadata server's DNS and nothing else there */
	    "-A NESTBOX_OUT -d " MD_SERVER " -p udp -m owner --uid-owner %d -m udp --dport 53 -j ACCEPT\n"
	    "-A NESTBOX_OUT -d " MD_SERVER " -p tcp -m owner --uid-owner %d -m tcp --dport 53 -j ACCEPT\n"
	    "-A NESTBOX_OUT -d " FIREWALL_METADATA " -m owner --uid-owner %d " REJECT "\n"
	    "COMMIT\n", FETCH_HTTP_UID, DNSMASQ_UID, DNSMASQ_UID, DNSMASQ_UID);
}

/*
 * The ruleset for the network, n forwards and the guests' nports bridge
 * ports, eth0 the L1's primary address (0: not known yet; then forwards to
 * it match on eth0). Returns the length, or -1 with EINVAL for a malformed
 * forward or port, or ENOSPC.
 */
int
firewall_rules(const struct netconf *nc, const struct forward *fw, size_t n,
    const struct fw_port *ports, size_t nports, uint32_t eth0, char *buf, size_t size)
{
	struct text	 t;
	struct fwd	*f;
	char		 a[IP4_STRLEN], net[IP4_STRLEN + 3];
	size_t		 i;
	int		 len;

	for (i = 0; i < nports; i++)
		if (ports[i].slot < 0 || ports[i].slot >= 1000 || (ports[i].mac[0] & 1)) {
			errno = EINVAL;
			return -1;
		}
	if ((f = calloc(n ? n : 1, sizeof(*f))) == NULL)
		return -1;
	snprintf(net, sizeof(net), "%s/%d", ip4_str(netconf_network(nc), a), nc->prefix);
	for (i = 0; i < n; i++) {
		if (fwd_check(nc, &fw[i], eth0, &f[i]) == -1) {
			free(f);
			return -1;
		}
	}
	text_init(&t, buf, size);
	text_add(&t, "# nestbox: the L2 network's ruleset (firewall.c), for iptables-restore\n");
	for (i = 0; i < n; i++) {
		if (!f[i].skip)
			continue;
		text_add(&t, "# skipped: %s ", protoname[f[i].proto]);
		if (f[i].any)
			text_add(&t, FIREWALL_WAN);
		else
			text_add(&t, "%s", ip4_str(f[i].match, a));
		if (f[i].proto != FWD_ALL)
			text_add(&t, ":%u", f[i].port);
		if (f[i].why[0] == '\0')
			text_add(&t, " -> %s: not in %s\n", ip4_str(f[i].guest, a), net);
		else
			text_add(&t, " -> %s: %s\n", ip4_str(f[i].guest, a), f[i].why);
	}
	add_mangle(&t, nc, ports, nports);
	add_nat(&t, net, f, n);
	add_filter(&t, net, f, n);
	free(f);
	len = text_done(&t);
	return len;
}

/*
 * IPv6 on the guests' side: nothing from virbr0 to the L1, nothing from
 * the L1 to virbr0, and nothing forwarded (the bridged frames between
 * guests included, through br_netfilter). INPUT and OUTPUT keep their
 * ACCEPT policy: eth0's IPv6 is GCE's business. Returns the length, or -1
 * with ENOSPC.
 */
int
firewall6_rules(char *buf, size_t size)
{
	struct text	 t;

	text_init(&t, buf, size);
	text_add(&t, "# nestbox: IPv6 on the L2 network's side (firewall.c), for ip6tables-restore\n"
	    "*filter\n"
	    ":INPUT ACCEPT [0:0]\n"
	    ":FORWARD DROP [0:0]\n"
	    ":OUTPUT ACCEPT [0:0]\n"
	    ":NESTBOX_FWD - [0:0]\n"
	    ":NESTBOX_INP - [0:0]\n"
	    ":NESTBOX_OUT - [0:0]\n"
	    "-A INPUT -j NESTBOX_INP\n"
	    "-A FORWARD -j NESTBOX_FWD\n"
	    "-A OUTPUT -j NESTBOX_OUT\n"
	    "-A NESTBOX_FWD -j DROP\n"
	    "-A NESTBOX_INP -i " NETCONF_BRIDGE " -j DROP\n"
	    "-A NESTBOX_OUT -o " NETCONF_BRIDGE " -j DROP\n"
	    "COMMIT\n");
	return text_done(&t);
}

/* The forwards, ports and the network the ruleset is made of. */
static struct {
	struct forward	*fwd;		/* a copy */
	size_t		 n;
	struct fw_port	*port;		/* a copy */
	size_t		 nports;
	int		 have_net;
	struct netconf	 nc;
	uint32_t	 eth0;		/* 0: not known */
	int		 loaded;	/* FIREWALL_RULES{,6} hold a good ruleset, in place */
	int		 current;	/* and it is the latest */
	char		 error[600];	/* the last load's failure; "" if it worked */
	void		(*on_load)(void);
} fw;

/*
 * Runs bin (iptables-restore or ip6tables-restore) on path, its stderr in a
 * memfd so a failure can be logged with iptables' own words. It takes
 * milliseconds, so PID 1 waits for it here rather than in the event loop.
 * Returns 0 if it succeeded.
 */
static int
restore(const char *bin, const char *path, char *err, size_t errlen)
{
	char	*argv[] = { (char *)bin, (char *)path, NULL };
	int	 fds[3] = { -1, -1, -1 }, status, saved;
	ssize_t	 r;
	pid_t	 pid;
	char	*nl;

	err[0] = '\0';
	if ((fds[2] = memfd_create("iptables-restore", MFD_CLOEXEC)) == -1)
		return -1;
	fds[1] = fds[2];
	if ((pid = spawn(argv, fds)) == -1) {
		saved = errno;
		close(fds[2]);
		errno = saved;
		return -1;
	}
	while (waitpid(pid, &status, 0) == -1) {
		if (errno != EINTR) {
			saved = errno;
			close(fds[2]);
			errno = saved;
			return -1;
		}
	}
	if ((r = pread(fds[2], err, errlen - 1, 0)) < 0)
		r = 0;
	err[r] = '\0';
	close(fds[2]);
	while ((nl = strchr(err, '\n')) != NULL)	/* one log line */
		*nl = nl[1] == '\0' ? '\0' : ' ';
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (err[0] == '\0')
		exit_reason(status, err, errlen);
	errno = EIO;
	return -1;
}

/* Loads both documents, IPv4 then IPv6; 0, or -1 with the reason in fw.error. */
static int
restore_both(const char *v4, const char *v6)
{
	char	 err[512];

	if (restore(FIREWALL_RESTORE, v4, err, sizeof(err)) == -1) {
		snprintf(fw.error, sizeof(fw.error), "iptables-restore failed: %s",
		    err[0] != '\0' ? err : strerror(errno));
		return -1;
	}
	if (restore(FIREWALL_RESTORE6, v6, err, sizeof(err)) == -1) {
		snprintf(fw.error, sizeof(fw.error), "ip6tables-restore failed: %s",
		    err[0] != '\0' ? err : strerror(errno));
		return -1;
	}
	return 0;
}

static int
apply(void)
{
	char	 path[] = FIREWALL_RULES ".new", path6[] = FIREWALL_RULES6 ".new", *buf;
	char	 why[sizeof(fw.error)];
	size_t	 size = 16384 + fw.n * 512 + fw.nports * 512;
	int	 len, rv = -1;

	fw.current = 0;
	if ((buf = malloc(size)) == NULL) {
		snprintf(fw.error, sizeof(fw.error), "%s", strerror(errno));
		log_warn("firewall");
		if (fw.on_load != NULL)
			fw.on_load();
		return -1;
	}
	if ((len = firewall_rules(&fw.nc, fw.fwd, fw.n, fw.port, fw.nports, fw.eth0,
	    buf, size)) == -1) {
		snprintf(fw.error, sizeof(fw.error), "ruleset: %s", strerror(errno));
		log_warn("firewall: ruleset");
		goto out;
	}
	if (mkdir(DNSMASQ_DIR, 0755) == -1 && errno != EEXIST) {
		snprintf(fw.error, sizeof(fw.error), "%s: %s", DNSMASQ_DIR, strerror(errno));
		log_warn("firewall: %s", DNSMASQ_DIR);
		goto out;
	}
	if (write_file(path, buf, len, 0600) == -1) {
		snprintf(fw.error, sizeof(fw.error), "%s: %s", path, strerror(errno));
		log_warn("firewall: %s", path);
		goto out;
	}
	if ((len = firewall6_rules(buf, size)) == -1 ||
	    write_file(path6, buf, len, 0600) == -1) {
		snprintf(fw.error, sizeof(fw.error), "%s: %s", path6, strerror(errno));
		log_warn("firewall: %s", path6);
		goto out;
	}
	if (restore_both(path, path6) == -1) {
		log_warnx("firewall: %s", fw.error);
		memcpy(why, fw.error, sizeof(why));
		if (fw.loaded && restore_both(FIREWALL_RULES, FIREWALL_RULES6) == 0)
			log_warnx("firewall: the previous ruleset is back in place");
		else if (fw.loaded) {
			/* what is in place now is unknown: nothing counts as loaded */
			log_warnx("firewall: the previous ruleset failed as well: %s",
			    fw.error);
			fw.loaded = 0;
		}
		memcpy(fw.error, why, sizeof(fw.error));
		goto out;
	}
	if (rename(path, FIREWALL_RULES) == -1 || rename(path6, FIREWALL_RULES6) == -1) {
		log_warn("firewall: %s", FIREWALL_RULES);
		fw.loaded = 0;	/* no last good copy to go back to */
	} else
		fw.loaded = 1;
	fw.current = 1;
	fw.error[0] = '\0';
	rv = 0;
	bridge_neighbours(fw.port, fw.nports);	/* logs */
out:
	free(buf);
	if (fw.on_load != NULL)
		fw.on_load();
	return rv;
}

/* 1: the last ruleset generated is the one loaded. */
int
firewall_loaded(void)
{
	return fw.current;
}

/* 1: a whole ruleset, IPv4 and IPv6, is in place (maybe not the latest). */
int
firewall_ever_loaded(void)
{
	return fw.loaded || fw.current;
}

/* 1: the last load failed, and why in buf. */
int
firewall_error(char *buf, size_t size)
{
	if (fw.error[0] == '\0')
		return 0;
	snprintf(buf, size, "%s", fw.error);
	return 1;
}

void
firewall_on_load(void (*fn)(void))
{
	fw.on_load = fn;
}

/* Loads the ruleset for the network, eth0 the L1's address (0: not known); logs. */
int
firewall_apply(const struct netconf *nc, uint32_t eth0)
{
	fw.nc = *nc;
	fw.eth0 = eth0;
	fw.have_net = 1;
	return apply();
}

/*
 * Replaces the forwards and the guests' bridge ports (copies) and, once the
 * network is up, reloads the ruleset.
 */
int
firewall_guests(const struct forward *f, size_t n, const struct fw_port *p, size_t np)
{
	struct forward	*v;
	struct fw_port	*w;

	if ((v = calloc(n ? n : 1, sizeof(*v))) == NULL)
		return -1;
	if ((w = calloc(np ? np : 1, sizeof(*w))) == NULL) {
		free(v);
		return -1;
	}
	if (n > 0)
		memcpy(v, f, n * sizeof(*v));
	if (np > 0)
		memcpy(w, p, np * sizeof(*w));
	free(fw.fwd);
	fw.fwd = v;
	fw.n = n;
	free(fw.port);
	fw.port = w;
	fw.nports = np;
	return fw.have_net ? apply() : 0;
}

/* Replaces the forwards, the ports as they are. */
int
firewall_forwards(const struct forward *f, size_t n)
{
	return firewall_guests(f, n, fw.port, fw.nports);
}

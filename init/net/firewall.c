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

static const char *const protoname[] = {
	[FWD_TCP] = "tcp", [FWD_UDP] = "udp", [FWD_ALL] = "all"
};

/* A forward checked: nothing but numbers reach the text. */
struct fwd {
	enum fwd_proto	 proto;
	int		 any;		/* match_ip and eth0 unknown: -i eth0 */
	int		 skip;		/* the guest is outside the subnet */
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
		/* the L1's own address whole would take its DHCP and replies */
		if (out->any || out->match == eth0 || f->match_ip == 0)
			goto bad;
	} else {
		if (f->port == 0)
			goto bad;
		out->port = f->port;
		out->gport = f->guest_port ? f->guest_port : f->port;
	}
	out->skip = !netconf_contains(nc, out->guest) || out->guest == nc->addr ||
	    out->guest == netconf_network(nc) || out->guest == netconf_broadcast(nc);
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

static void
add_mangle(struct text *t)
{
	text_add(t, "*mangle\n"
	    ":PREROUTING ACCEPT [0:0]\n"
	    ":INPUT ACCEPT [0:0]\n"
	    ":FORWARD ACCEPT [0:0]\n"
	    ":OUTPUT ACCEPT [0:0]\n"
	    ":POSTROUTING ACCEPT [0:0]\n"
	    ":NESTBOX_MSS - [0:0]\n"
	    ":NESTBOX_PRT - [0:0]\n"
	    "-A FORWARD -j NESTBOX_MSS\n"
	    "-A POSTROUTING -j NESTBOX_PRT\n"
	    "-A NESTBOX_MSS -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu\n"
	    "-A NESTBOX_PRT -o " NETCONF_BRIDGE " -p udp -m udp --dport 68 -j CHECKSUM --checksum-fill\n"
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
	    "-A OUTPUT -j NESTBOX_DNAT\n"
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
	text_add(t, "-A NESTBOX_INP -i lo -j ACCEPT\n"
	    "-A NESTBOX_INP -d " FIREWALL_METADATA " -i " NETCONF_BRIDGE " " REJECT "\n"
	    "-A NESTBOX_INP -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
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
	    "COMMIT\n");
}

/*
 * The ruleset for the network and n forwards, eth0 the L1's primary
 * address (0: not known yet; then forwards to it match on eth0). Returns
 * the length, or -1 with EINVAL for a malformed forward or ENOSPC.
 */
int
firewall_rules(const struct netconf *nc, const struct forward *fw, size_t n,
    uint32_t eth0, char *buf, size_t size)
{
	struct text	 t;
	struct fwd	*f;
	char		 a[IP4_STRLEN], net[IP4_STRLEN + 3];
	size_t		 i;
	int		 len;

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
		text_add(&t, " -> %s: not in %s\n", ip4_str(f[i].guest, a), net);
	}
	add_mangle(&t);
	add_nat(&t, net, f, n);
	add_filter(&t, net, f, n);
	free(f);
	len = text_done(&t);
	return len;
}

/* The forwards and the network the ruleset is made of. */
static struct {
	struct forward	*fwd;		/* a copy */
	size_t		 n;
	int		 have_net;
	struct netconf	 nc;
	uint32_t	 eth0;		/* 0: not known */
	int		 loaded;	/* FIREWALL_RULES holds a good ruleset */
	int		 current;	/* and it is the latest */
} fw;

/*
 * Runs iptables-restore on path, its stderr in a memfd so a failure can be
 * logged with iptables' own words. It takes milliseconds, so PID 1 waits
 * for it here rather than in the event loop. Returns 0 if it succeeded.
 */
static int
restore(const char *path, char *err, size_t errlen)
{
	char	*argv[] = { FIREWALL_RESTORE, (char *)path, NULL };
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

static int
apply(void)
{
	char	 path[] = FIREWALL_RULES ".new", err[512], *buf;
	size_t	 size = 16384 + fw.n * 512;
	int	 len, rv = -1;

	fw.current = 0;
	if ((buf = malloc(size)) == NULL) {
		log_warn("firewall");
		return -1;
	}
	if ((len = firewall_rules(&fw.nc, fw.fwd, fw.n, fw.eth0, buf, size)) == -1) {
		log_warn("firewall: ruleset");
		goto out;
	}
	if (mkdir(DNSMASQ_DIR, 0755) == -1 && errno != EEXIST) {
		log_warn("firewall: %s", DNSMASQ_DIR);
		goto out;
	}
	if (write_file(path, buf, len, 0600) == -1) {
		log_warn("firewall: %s", path);
		goto out;
	}
	if (restore(path, err, sizeof(err)) == -1) {
		if (err[0] != '\0')
			log_warnx("firewall: iptables-restore failed: %s", err);
		else
			log_warn("firewall: iptables-restore");
		if (fw.loaded && restore(FIREWALL_RULES, err, sizeof(err)) == 0)
			log_warnx("firewall: the previous ruleset is back in place");
		else if (fw.loaded)
			log_warnx("firewall: the previous ruleset failed as well: %s", err);
		goto out;
	}
	if (rename(path, FIREWALL_RULES) == -1)
		log_warn("firewall: %s", FIREWALL_RULES);
	else
		fw.loaded = 1;
	fw.current = 1;
	rv = 0;
out:
	free(buf);
	return rv;
}

/* 1: the last ruleset generated is the one loaded. */
int
firewall_loaded(void)
{
	return fw.current;
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

/* Replaces the forwards and, once the network is up, reloads the ruleset. */
int
firewall_forwards(const struct forward *f, size_t n)
{
	struct forward	*v;

	if ((v = calloc(n ? n : 1, sizeof(*v))) == NULL)
		return -1;
	if (n > 0)
		memcpy(v, f, n * sizeof(*v));
	free(fw.fwd);
	fw.fwd = v;
	fw.n = n;
	return fw.have_net ? apply() : 0;
}

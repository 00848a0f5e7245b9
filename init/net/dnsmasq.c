/*
 * dnsmasq: DHCP and DNS for the L2 guests on virbr0, with libvirt's options
 * (libvirt's src/network/bridge_driver.c writes the same for its default
 * network) and ours:
 *
 * - DNS goes to the metadata server's resolver only (no-resolv, server=),
 *   as on any GCE VM; the L1's own name server list is not read.
 * - Static leases live in a hosts file that dnsmasq re-reads on SIGHUP, so
 *   adding a guest never restarts it; the config itself changes only with
 *   the network, and a new config restarts it.
 * - The lease file is in /run/nestbox, where the status reads it.
 * - dnsmasq drops root for nobody:nogroup after opening its sockets, lease
 *   and pid files (its default group "dip" does not exist here). It keeps
 *   CAP_NET_ADMIN and CAP_NET_BIND_SERVICE for bind-dynamic, and reads the
 *   hosts file as nobody on SIGHUP: the file is 0644.
 * - Its log goes to stderr (log-facility=-), which is the console: there is
 *   no syslog in the appliance.
 *
 * dnsmasq_config() and dnsmasq_hosts() are pure; the rest runs the service.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "net/net.h"
#include "net/net-internal.h"

/* Local-administered or not, any unicast MAC: six hex pairs with colons. */
static int
mac_ok(const char *s)
{
	int	 i;

	for (i = 0; i < 17; i++) {
		if (i % 3 == 2) {
			if (s[i] != ':')
				return 0;
		} else if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	}
	return s[17] == '\0';
}

/*
 * dnsmasq's configuration for the network, the bridge's MTU handed to the
 * guests (DHCP option 26: on GCE eth0 and so virbr0 have 1460, and a guest
 * sending 1500-byte frames would lose them). Returns the length, or -1 with
 * ENOSPC.
 */
int
dnsmasq_config(const struct netconf *nc, int mtu, char *buf, size_t size)
{
	struct text	 t;
	char		 a[IP4_STRLEN], b[IP4_STRLEN], m[IP4_STRLEN];

	text_init(&t, buf, size);
	text_add(&t, "# nestbox: dnsmasq for the L2 network (dnsmasq.c)\n"
	    "strict-order\n"
	    "pid-file=" DNSMASQ_PID "\n"
	    "except-interface=lo\n"
	    "bind-dynamic\n"
	    "interface=" NETCONF_BRIDGE "\n");
	text_add(&t, "dhcp-range=%s,%s,%s,%u\n", ip4_str(nc->range_start, a),
	    ip4_str(nc->range_end, b), ip4_str(ip4_mask(nc->prefix), m), nc->lease);
	text_add(&t, "dhcp-no-override\n"
	    "dhcp-authoritative\n"
	    "dhcp-lease-max=%u\n", netconf_range_size(nc));
	text_add(&t, "dhcp-hostsfile=" DNSMASQ_HOSTS "\n"
	    "dhcp-leasefile=" DNSMASQ_LEASES "\n");
	if (mtu > 0 && mtu != 1500)
		text_add(&t, "dhcp-option=option:mtu,%d\n", mtu);
	text_add(&t, "no-resolv\n"
	    "server=" DNSMASQ_DNS "\n"
	    "user=nobody\n"
	    "group=nogroup\n"
	    "log-facility=-\n");
	return text_done(&t);
}

/*
 * The static leases, one "mac,ip[,name]" line each (dnsmasq's dhcp-host
 * syntax). An address outside the subnet, which a network change can
 * cause, is written as a comment that says so: dnsmasq would ignore it
 * anyway. A malformed MAC, address or name is EINVAL: the caller has
 * validated them, so that is a bug, not an input error.
 */
int
dnsmasq_hosts(const struct netconf *nc, const struct static_lease *l, size_t n,
    char *buf, size_t size)
{
	struct text	 t;
	char		 net[IP4_STRLEN], mac[18];
	uint32_t	 ip;
	size_t		 i, j;

	text_init(&t, buf, size);
	text_add(&t, "# nestbox: static leases (dnsmasq.c), re-read on SIGHUP\n");
	for (i = 0; i < n; i++) {
		if (l[i].mac == NULL || !mac_ok(l[i].mac) || l[i].ip == NULL ||
		    ip4_parse(l[i].ip, strlen(l[i].ip), &ip) == -1 ||
		    (l[i].name != NULL && !dns_label_ok(l[i].name, strlen(l[i].name)))) {
			errno = EINVAL;
			return -1;
		}
		for (j = 0; j < 17; j++)
			mac[j] = l[i].mac[j] >= 'A' && l[i].mac[j] <= 'F' ?
			    l[i].mac[j] - 'A' + 'a' : l[i].mac[j];
		mac[17] = '\0';
		if (!netconf_contains(nc, ip) || ip == nc->addr ||
		    ip == netconf_network(nc) || ip == netconf_broadcast(nc)) {
			text_add(&t, "# %s,%s%s%s: not a host address of %s/%d\n",
			    mac, l[i].ip, l[i].name ? "," : "", l[i].name ? l[i].name : "",
			    ip4_str(netconf_network(nc), net), nc->prefix);
			continue;
		}
		text_add(&t, "%s,%s%s%s\n", mac, l[i].ip, l[i].name ? "," : "",
		    l[i].name ? l[i].name : "");
	}
	return text_done(&t);
}

/* The running service and what it was started with. */
static struct {
	struct service		 svc;
	int			 inited;
	int			 have_net;
	struct netconf		 nc;
	char			 conf[2048];	/* the config dnsmasq runs with */
	struct static_lease	*leases;	/* copies */
	size_t			 nleases;
} dm;

static char *const dnsmasq_argv[] = {
	DNSMASQ_BIN, "--keep-in-foreground", "--conf-file=" DNSMASQ_CONF, NULL
};

static int
write_hosts(void)
{
	char	*buf;
	size_t	 size = 256 + dm.nleases * 128;
	int	 len, rv = -1;

	if ((buf = malloc(size)) == NULL)
		return -1;
	if ((len = dnsmasq_hosts(&dm.nc, dm.leases, dm.nleases, buf, size)) == -1)
		log_warn("dnsmasq: static leases");
	else if ((rv = write_file(DNSMASQ_HOSTS, buf, len, 0644)) == -1)
		log_warn("dnsmasq: %s", DNSMASQ_HOSTS);
	free(buf);
	return rv;
}

/*
 * Writes the config and the hosts file and starts dnsmasq, or, if it runs
 * with another config, stops it: the supervisor starts it again (at most
 * once a second) and the new one reads the new config.
 */
int
dnsmasq_start(const struct netconf *nc, int mtu)
{
	char	 conf[sizeof(dm.conf)];
	int	 len;

	if (!dm.inited) {
		if (service_init(&dm.svc, "dnsmasq", dnsmasq_argv) == -1) {
			log_warn("dnsmasq: timer");
			return -1;
		}
		dm.inited = 1;
	}
	if ((len = dnsmasq_config(nc, mtu, conf, sizeof(conf))) == -1) {
		log_warn("dnsmasq: config");
		return -1;
	}
	if (mkdir(DNSMASQ_DIR, 0755) == -1 && errno != EEXIST) {
		log_warn("dnsmasq: %s", DNSMASQ_DIR);
		return -1;
	}
	dm.nc = *nc;
	dm.have_net = 1;
	if (write_hosts() == -1)
		return -1;
	if (dm.svc.state != SVC_DOWN && strcmp(conf, dm.conf) == 0)
		return 0;
	if (write_file(DNSMASQ_CONF, conf, len, 0644) == -1) {
		log_warn("dnsmasq: %s", DNSMASQ_CONF);
		return -1;
	}
	memcpy(dm.conf, conf, len + 1);
	if (dm.svc.state == SVC_UP) {
		log_info("dnsmasq: new config, restarting");
		kill(dm.svc.child.pid, SIGTERM);	/* want_up stays: it restarts */
	} else
		service_start(&dm.svc);
	return 0;
}

static void
leases_free(struct static_lease *v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		free((char *)v[i].mac);
		free((char *)v[i].ip);
		free((char *)v[i].name);
	}
	free(v);
}

/* Replaces the static leases; a running dnsmasq re-reads them (SIGHUP). */
int
dnsmasq_leases(const struct static_lease *l, size_t n)
{
	struct static_lease	*v;
	size_t			 i;

	if ((v = calloc(n ? n : 1, sizeof(*v))) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		v[i].mac = l[i].mac ? strdup(l[i].mac) : NULL;
		v[i].ip = l[i].ip ? strdup(l[i].ip) : NULL;
		v[i].name = l[i].name ? strdup(l[i].name) : NULL;
		if ((l[i].mac && !v[i].mac) || (l[i].ip && !v[i].ip) ||
		    (l[i].name && !v[i].name)) {
			leases_free(v, i + 1);
			errno = ENOMEM;
			return -1;
		}
	}
	leases_free(dm.leases, dm.nleases);
	dm.leases = v;
	dm.nleases = n;
	if (!dm.have_net)
		return 0;
	if (write_hosts() == -1)
		return -1;
	if (dm.svc.state == SVC_UP)
		kill(dm.svc.child.pid, SIGHUP);
	return 0;
}

pid_t
dnsmasq_pid(void)
{
	return dm.inited && dm.svc.state == SVC_UP ? dm.svc.child.pid : 0;
}

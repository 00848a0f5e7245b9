/*
 * The L2 network, put together: once eth0 has its lease (net_on_ready, then
 * eth0_up) and on every change of the nestbox-network value (metadata_watch,
 * then network_set), the value is parsed and checked,
 * then the bridge, dnsmasq, the firewall and IP forwarding are brought to
 * it, in that order. An invalid value is reported and the network keeps the
 * configuration it has (the defaults at first).
 *
 * Fail closed: forwarding is turned on only once a whole ruleset (IPv4 and
 * IPv6) is in place, and the guests start (l2net_on_ready) only then. A
 * ruleset that fails to load is an error in the log, in the status
 * (l2net.firewall_error, which the guest attributes carry too), and the
 * guests wait; the next change (a guest's forwards or address, the network)
 * tries again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <cjson/cJSON.h>

#include "net/net.h"
#include "net/net-internal.h"

static struct {
	uint32_t	 eth0_addr;	/* host byte order; 0: not up yet */
	int		 eth0_mtu;
	char		*json;		/* the last value seen; NULL: unset */
	size_t		 len;
	int		 applied;	/* what is in place: */
	struct netconf	 nc;
	int		 mtu;
	uint32_t	 fw_eth0;
	const char	*from;		/* "defaults", "nestbox-network" */
	char		 error[256];	/* the value's last error, "" if none */
	int		 ok;		/* every step of the last apply worked */
	int		 bridge_ok;	/* the bridge and its sysctls are in place */
	int		 ready;		/* the guests may start: bridge and rulesets */
	void		(*on_ready[2])(void);
} l2;

/* Once the bridge and a whole ruleset are in place: forwarding, then the guests. */
static void
check_ready(void)
{
	size_t	 i;

	if (!l2.bridge_ok || !firewall_ever_loaded()) {
		if (!firewall_ever_loaded())
			ip_forward_set(0);	/* logs */
		return;
	}
	if (ip_forward_set(1) == -1)		/* logs */
		return;
	if (l2.ready)
		return;
	l2.ready = 1;
	log_info("l2net: the ruleset is in place: guests may start");
	for (i = 0; i < sizeof(l2.on_ready) / sizeof(l2.on_ready[0]); i++)
		if (l2.on_ready[i] != NULL)
			l2.on_ready[i]();
}

/* firewall.c: a load was tried (a guest's forwards or address changed) */
static void
on_firewall(void)
{
	if (l2.applied)
		check_ready();
}

static void
apply(void)
{
	struct netconf	 nc;
	char		 err[256], net[IP4_STRLEN], a[IP4_STRLEN], b[IP4_STRLEN],
			 cidr[IP4_STRLEN + 3];
	const char	*from = l2.json ? "nestbox-network" : "defaults";
	int		 mtu, rv = 0;

	if (netconf_parse(l2.json, l2.json ? l2.len : 0, &nc, err, sizeof(err)) == -1 ||
	    netconf_check(&nc, l2.eth0_addr, err, sizeof(err)) == -1) {
		log_warnx("%s; keeping %s", err, l2.applied ? "the network as it is" :
		    "the defaults");
		memcpy(l2.error, err, sizeof(l2.error));
		status_changed();
		if (l2.applied) {
			nc = l2.nc;
			from = "unchanged";
		} else {
			netconf_default(&nc);
			from = "defaults";
			/* the defaults clash with eth0: say so, and run them anyway */
			if (netconf_check(&nc, l2.eth0_addr, err, sizeof(err)) == -1)
				log_warnx("%s", err);
		}
	} else if (l2.error[0] != '\0') {
		l2.error[0] = '\0';
		status_changed();
	}
	mtu = netconf_mtu(&nc, l2.eth0_mtu);
	if (l2.applied && memcmp(&nc, &l2.nc, sizeof(nc)) == 0 && mtu == l2.mtu &&
	    l2.eth0_addr == l2.fw_eth0)
		return;
	if (nc.mtu > mtu)
		log_warnx("nestbox-network: mtu: %d is above eth0's %d; using %d",
		    nc.mtu, l2.eth0_mtu, mtu);
	snprintf(cidr, sizeof(cidr), "%s/%d", ip4_str(nc.addr, a), nc.prefix);
	log_info("l2net: %s %s (subnet %s/%d) mtu %d, dhcp %s-%s lease %us (%s)",
	    NETCONF_BRIDGE, cidr, ip4_str(netconf_network(&nc), net), nc.prefix, mtu,
	    ip4_str(nc.range_start, a), ip4_str(nc.range_end, b), nc.lease, from);
	l2.bridge_ok = bridge_setup(NETCONF_BRIDGE, cidr, mtu) == 0 &&	/* logs */
	    bridge_netfilter() == 0;
	if (!l2.bridge_ok)
		rv = -1;
	if (dnsmasq_start(&nc, mtu) == -1)
		rv = -1;
	if (firewall_apply(&nc, l2.eth0_addr) == -1)
		rv = -1;
	check_ready();		/* forwarding, and the guests, after the ruleset */
	l2.nc = nc;
	l2.mtu = mtu;
	l2.fw_eth0 = l2.eth0_addr;
	l2.applied = 1;
	if (strcmp(from, "unchanged") != 0)
		l2.from = from;
	l2.ok = rv == 0;
	status_changed();
	if (rv == 0)
		log_info("l2net: ready: bridge, forwarding, dnsmasq, firewall");
	else
		log_warnx("l2net: up with errors (above)");
}

/* eth0 has its lease (addr in host byte order): the network follows it, and its MTU. */
static void
eth0_up(uint32_t addr, int mtu)
{
	l2.eth0_addr = addr;
	l2.eth0_mtu = mtu;
	apply();
}

/*
 * The nestbox-network value changed (NULL: it is unset). Before eth0 is up
 * it is only kept: the network starts with eth0's lease.
 */
static void
network_set(const char *json, size_t len)
{
	char	*copy = NULL;

	if (json != NULL) {
		if ((copy = malloc(len + 1)) == NULL) {
			log_warn("l2net");
			return;
		}
		memcpy(copy, json, len);
		copy[len] = '\0';
	}
	free(l2.json);
	l2.json = copy;
	l2.len = len;
	if (l2.eth0_addr != 0)
		apply();
}

static void
on_lease(void)
{
	const struct lease	*l = net_lease();

	if (l == NULL)
		eth0_up(0, 0);
	else
		eth0_up(ntohl(l->ip.s_addr), (int)l->mtu);
}

/* metadata_watch: the first value, then each change of it */
static void
on_network(const char *v, void *arg)
{
	(void)arg;
	/* unset at first: the defaults, which eth0's lease applies */
	if (v == NULL && l2.json == NULL)
		return;
	network_set(v, v ? strlen(v) : 0);
}

static void
render(cJSON *o, int brief)
{
	char	 a[IP4_STRLEN], b[IP4_STRLEN], buf[64], err[600];
	pid_t	 pid = dnsmasq_pid();

	(void)brief;
	if (!l2.applied) {
		cJSON_AddStringToObject(o, "state", "waiting for eth0");
		return;
	}
	cJSON_AddStringToObject(o, "state", l2.ok ? "up" : "errors");
	cJSON_AddStringToObject(o, "bridge", NETCONF_BRIDGE);
	snprintf(buf, sizeof(buf), "%s/%d", ip4_str(l2.nc.addr, a), l2.nc.prefix);
	cJSON_AddStringToObject(o, "address", buf);
	snprintf(buf, sizeof(buf), "%s-%s", ip4_str(l2.nc.range_start, a),
	    ip4_str(l2.nc.range_end, b));
	cJSON_AddStringToObject(o, "dhcp_range", buf);
	cJSON_AddNumberToObject(o, "mtu", l2.mtu);
	cJSON_AddNumberToObject(o, "lease_time", l2.nc.lease);
	cJSON_AddStringToObject(o, "config", l2.from ? l2.from : "defaults");
	if (l2.error[0] != '\0')
		cJSON_AddStringToObject(o, "error", l2.error);
	else
		cJSON_AddNullToObject(o, "error");
	if (pid > 0)
		cJSON_AddNumberToObject(o, "dnsmasq_pid", pid);
	else
		cJSON_AddNullToObject(o, "dnsmasq_pid");
	cJSON_AddStringToObject(o, "leases", DNSMASQ_LEASES);
	cJSON_AddBoolToObject(o, "firewall", firewall_loaded());
	if (firewall_error(err, sizeof(err)))
		cJSON_AddStringToObject(o, "firewall_error", err);
	else
		cJSON_AddNullToObject(o, "firewall_error");
	cJSON_AddBoolToObject(o, "guests_allowed", l2.ready);
}

static struct status_section section = { "l2net", render, NULL };

const struct netconf *
l2net_conf(void)
{
	return l2.applied ? &l2.nc : NULL;
}

uint32_t
l2net_eth0(void)
{
	return l2.eth0_addr;
}

/* fn runs once, when the bridge and a whole ruleset are first in place. */
int
l2net_on_ready(void (*fn)(void))
{
	size_t	 i;

	for (i = 0; i < sizeof(l2.on_ready) / sizeof(l2.on_ready[0]); i++)
		if (l2.on_ready[i] == NULL) {
			l2.on_ready[i] = fn;
			if (l2.ready)
				fn();
			return 0;
		}
	errno = ENOSPC;
	return -1;
}

/* A guest's tap, before QEMU opens it: no IPv6, locked to its MAC, up. */
int
l2net_port_setup(const char *tap, const uint8_t mac[6])
{
	return bridge_port_lock(tap, mac);	/* logs */
}

/* Hooks the network to eth0's lease and to the metadata value. */
int
l2net_init(void)
{
	status_section_add(&section);
	firewall_on_load(on_firewall);
	metadata_watch("nestbox-network", on_network, NULL);	/* logs */
	return net_on_ready(on_lease);
}

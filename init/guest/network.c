/*
 * The guests on the network: static leases, forwards and bridge ports
 * from every declared guest, to dnsmasq and the firewall; each guest's
 * address, its static one or dnsmasq's lease for its MAC, polled. A guest's
 * port lets it send IPv4 from that address only once it is known: until
 * its lease is seen, DHCP alone (firewall.c).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "guest/vm.h"

/* The guest's address: its static one, else dnsmasq's lease for its MAC. */
void
vm_lookup_ip(struct vm *v, const char *leases)
{
	char	 mac[18], line[256];
	const char *p, *e;
	char	 m[18], ip[IP4_STRLEN];
	unsigned long exp;

	if (v->g.ip != 0) {
		ip4_str(v->g.ip, v->ip);
		return;
	}
	v->ip[0] = '\0';
	guest_mac_str(v->g.mac, mac);
	for (p = leases; p != NULL && *p != '\0'; p = e != NULL ? e + 1 : NULL) {
		e = strchr(p, '\n');
		snprintf(line, sizeof(line), "%.*s", (int)(e != NULL ? e - p :
		    (ptrdiff_t)strlen(p)), p);
		if (sscanf(line, "%lu %17s %15s", &exp, m, ip) == 3 &&
		    strcasecmp(m, mac) == 0)
			snprintf(v->ip, sizeof(v->ip), "%s", ip);
	}
}

/* Static leases and forwards from every declared guest, to dnsmasq and
 * the firewall; again when a guest's address changes. */
void
apply_network(void)
{
	struct static_lease	 leases[GUESTS_MAX];
	struct forward		 fw[GUESTS_MAX * (GUEST_FORWARDS_MAX + 1)];
	struct fw_port		 ports[GUESTS_MAX];
	char			 ips[GUESTS_MAX][IP4_STRLEN], macs[GUESTS_MAX][18];
	uint32_t		 gip;
	size_t			 i, k, nl = 0, nf = 0, np = 0;
	struct vm		*v;

	memset(ports, 0, sizeof(ports));	/* compared whole */
	for (i = 0; i < GUESTS_MAX; i++) {
		if ((v = vms.v[i]) == NULL || v->fsm.goal == G_REMOVE)
			continue;
		if (v->g.ip != 0) {	/* the others take what the range gives */
			guest_mac_str(v->g.mac, macs[nl]);
			leases[nl].mac = macs[nl];
			leases[nl].name = v->g.name;
			leases[nl].ip = ip4_str(v->g.ip, ips[nl]);
			nl++;
		}
		if (v->ip[0] == '\0' || ip4_parse(v->ip, strlen(v->ip), &gip) == -1)
			gip = 0;
		/* every guest that may run: its tap sends nothing else */
		ports[np].slot = v->slot;
		memcpy(ports[np].mac, v->g.mac, sizeof(ports[np].mac));
		ports[np].ip = gip;	/* 0: DHCP only */
		np++;
		if (gip == 0)
			continue;	/* no address yet: forwards follow the lease */
		for (k = 0; k < v->g.nforwards; k++) {
			const struct guest_forward *f = &v->g.forwards[k];

			fw[nf].proto = f->proto;
			fw[nf].match_ip = f->alias_ip;	/* 0: eth0's */
			fw[nf].port = f->port;
			fw[nf].guest_ip = gip;
			fw[nf].guest_port = f->guest_port;
			nf++;
		}
		if (v->g.alias_ip != 0) {
			fw[nf].proto = FWD_ALL;
			fw[nf].match_ip = v->g.alias_ip;
			fw[nf].port = 0;
			fw[nf].guest_ip = gip;
			fw[nf].guest_port = 0;
			nf++;
		}
	}
	if (dnsmasq_leases(leases, nl) == -1)
		log_warn("guests: static leases");
	if (firewall_guests(fw, nf, ports, np) == -1)
		log_warn("guests: forwards");
}

/* Every guest's address from dnsmasq's leases; a change goes to the
 * network, the status and the guest's attribute. */
int
leases_poll(const struct vm_ops *ops)
{
	char		*text;
	size_t		 i, len;
	int		 changed = 0, any = 0;
	char		 old[IP4_STRLEN];
	struct vm	*v;

	text = ops->read_file(DNSMASQ_LEASES, 1 << 20, &len);
	for (i = 0; i < GUESTS_MAX; i++) {
		if ((v = vms.v[i]) == NULL)
			continue;
		any = 1;
		memcpy(old, v->ip, sizeof(old));
		vm_lookup_ip(v, text != NULL ? text : "");
		if (strcmp(old, v->ip) != 0) {
			changed = 1;
			if (v->ip[0] != '\0')
				log_info("guest %s: address %s", v->g.name, v->ip);
			vm_attr_update(v);
		}
	}
	free(text);
	if (changed) {
		apply_network();
		status_changed();
	}
	return any;
}

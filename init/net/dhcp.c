/*
 * eth0 by DHCP, the GCE way. busybox udhcpc does the protocol and runs this
 * program (the init binary, called as dhcp-hook) with the lease in its
 * environment; the hook validates it, applies it over netlink and writes
 * /etc/resolv.conf, /etc/hosts and /run/nestbox/lease, which PID 1 watches.
 *
 * GCE's lease is a /32 (netmask 255.255.255.255) with option 121 routes
 * "gateway/32 via 0.0.0.0, 0.0.0.0/0 via gateway": the gateway is reachable
 * only through its own link route, so the routes go in in their order.
 * Per RFC 3442 a client that gets option 121 ignores option 3 (router).
 *
 * Everything in the environment comes from the network, so it is parsed in
 * one place (dhcp_lease_parse), strictly: a malformed value refuses the
 * lease with a message naming the field, since GCE never sends one. Two
 * values are dropped with a warning instead: an MTU out of range, and a
 * hostname naming the metadata server (a known takeover trick; GCE's guest
 * agent refuses it too).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <linux/rtnetlink.h>

#include "net/net-internal.h"

#ifndef RTPROT_DHCP
#define RTPROT_DHCP	16
#endif

#define LEASE_LINES_MAX	64

/* ip4_parse (netconf.c), into network byte order. */
static int
inaddr_parse(const char *s, size_t len, struct in_addr *a)
{
	uint32_t	 h;

	if (ip4_parse(s, len, &h) == -1)
		return -1;
	a->s_addr = htonl(h);
	return 0;
}

/* "a.b.c.d/n" or "a.b.c.d" (/32), the address as given. */
int
ifaddr_parse(const char *s, size_t len, struct in_addr *a, int *prefix)
{
	const char	*slash = memchr(s, '/', len);
	size_t		 i;
	int		 p = 32;

	if (slash != NULL) {
		i = slash + 1 - s;
		if (i == len || len - i > 2 || (len - i == 2 && s[i] == '0'))
			goto bad;
		for (p = 0; i < len; i++) {
			if (s[i] < '0' || s[i] > '9')
				goto bad;
			p = p * 10 + (s[i] - '0');
		}
		if (p > 32)
			goto bad;
		len = slash - s;
	}
	if (inaddr_parse(s, len, a) == -1)
		return -1;
	*prefix = p;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

/* A network: as ifaddr_parse, and EINVAL for host bits set past the prefix. */
int
cidr_parse(const char *s, size_t len, struct in_addr *a, int *prefix)
{
	if (ifaddr_parse(s, len, a, prefix) == -1)
		return -1;
	if (ntohl(a->s_addr) & ~ip4_mask(*prefix)) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* Splits v at spaces into at most max tokens; -1 if there are more. */
static int
split(const char *v, const char *tok[], size_t tlen[], size_t max, size_t *n)
{
	*n = 0;
	for (;;) {
		while (*v == ' ')
			v++;
		if (*v == '\0')
			return 0;
		if (*n == max)
			return -1;
		tok[*n] = v;
		while (*v != ' ' && *v != '\0')
			v++;
		tlen[*n] = v - tok[*n];
		(*n)++;
	}
}

#define FAIL(...) do { snprintf(err, errsize, __VA_ARGS__); return -1; } while (0)

static int
f_interface(const char *k, const char *v, struct lease *l, char *err, size_t errsize)
{
	size_t	 len = strlen(v);

	if (len == 0 || len >= sizeof(l->ifname) || strchr(v, '/') || strchr(v, ' '))
		FAIL("%s: not an interface name", k);
	memcpy(l->ifname, v, len + 1);
	return 0;
}

static int
f_ip(const char *k, const char *v, struct lease *l, char *err, size_t errsize)
{
	uint32_t	 h;

	if (inaddr_parse(v, strlen(v), &l->ip) == -1)
		FAIL("%s: not an IPv4 address", k);
	h = ntohl(l->ip.s_addr);
	if (h == 0 || h >> 24 == 127 || h >> 24 >= 224)
		FAIL("%s: %s is not a unicast address", k, v);
	return 0;
}

static int
f_subnet(const char *k, const char *v, struct lease *l, char *err, size_t errsize)
{
	struct in_addr	 m;
	uint32_t	 h;
	int		 p;

	if (inaddr_parse(v, strlen(v), &m) == -1)
		FAIL("%s: not a netmask", k);
	h = ntohl(m.s_addr);
	for (p = 0; p < 32 && (h & (0x80000000u >> p)); p++)
		;
	if (p < 32 && (h << p) != 0)
		FAIL("%s: %s is not a contiguous netmask", k, v);
	l->prefix = p;
	return 0;
}

/* A list of addresses: the first max are kept, more is an error. */
static int
addrs(const char *k, const char *v, struct in_addr *a, size_t max, size_t *n,
    char *err, size_t errsize)
{
	const char	*tok[LEASE_SERVERS_MAX];
	size_t		 tlen[LEASE_SERVERS_MAX], i;

	if (split(v, tok, tlen, max, n) == -1)
		FAIL("%s: more than %zu addresses", k, max);
	for (i = 0; i < *n; i++)
		if (inaddr_parse(tok[i], tlen[i], &a[i]) == -1 || a[i].s_addr == 0)
			FAIL("%s: \"%.*s\" is not an IPv4 address", k, (int)tlen[i], tok[i]);
	return 0;
}

static int
f_router(const char *k, const char *v, struct lease *l, char *err, size_t errsize)
{
	struct in_addr	 r[LEASE_SERVERS_MAX];
	size_t		 n;

	if (addrs(k, v, r, LEASE_SERVERS_MAX, &n, err, errsize) == -1)
		return -1;
	if (n > 0)
		l->router = r[0];
	return 0;
}

static int
f_dns(const char *k, const char *v, struct lease *l, char *err, size_t errsize)
{
	return addrs(k, v, l->dns, LEASE_SERVERS_MAX, &l->ndns, err, errsize);
}

static int
f_ntpsrv(const char *k, const char *v, struct lease *l, char *err, size_t errsize)
{
	return addrs(k, v, l->ntp, LEASE_SERVERS_MAX, &l->nntp, err, errsize);
}

static int
f_serverid(const char *k, const char *v, struct lease *l, char *err, size_t errsize)
{
	if (inaddr_parse(v, strlen(v), &l->serverid) == -1)
		FAIL("%s: not an IPv4 address", k);
	return 0;
}

/* Option 121 as udhcpc shows it: "10.128.0.1/32 0.0.0.0 0.0.0.0/0 10.128.0.1". */
static int
f_staticroutes(const char *k, const char *v, struct lease *l, char *err, size_t errsize)
{
	const char		*tok[2 * LEASE_ROUTES_MAX];
	size_t			 tlen[2 * LEASE_ROUTES_MAX], n, i;
	struct lease_route	*r;

	if (split(v, tok, tlen, 2 * LEASE_ROUTES_MAX, &n) == -1)
		FAIL("%s: more than %d routes", k, LEASE_ROUTES_MAX);
	if (n % 2 != 0)
		FAIL("%s: a destination without a gateway", k);
	for (i = 0; i < n; i += 2) {
		r = &l->routes[i / 2];
		if (memchr(tok[i], '/', tlen[i]) == NULL ||
		    cidr_parse(tok[i], tlen[i], &r->dst, &r->prefix) == -1)
			FAIL("%s: \"%.*s\" is not a destination a.b.c.d/0-32", k,
			    (int)tlen[i], tok[i]);
		if (inaddr_parse(tok[i + 1], tlen[i + 1], &r->gw) == -1)
			FAIL("%s: \"%.*s\" is not a gateway address", k,
			    (int)tlen[i + 1], tok[i + 1]);
	}
	l->nroutes = n / 2;
	return 0;
}

static int
f_mtu(const char *k, const char *v, struct lease *l, char *err, size_t errsize)
{
	char	*end;
	long	 m;

	errno = 0;
	m = strtol(v, &end, 10);
	if (*v < '0' || *v > '9' || *end != '\0' || errno == ERANGE || m > 65535)
		FAIL("%s: not a number", k);
	if (m < LEASE_MTU_MIN || m > LEASE_MTU_MAX) {
		l->mtu_refused = m;
		return 0;
	}
	l->mtu = m;
	return 0;
}

static int
f_lease(const char *k, const char *v, struct lease *l, char *err, size_t errsize)
{
	char		*end;
	unsigned long	 s;

	errno = 0;
	s = strtoul(v, &end, 10);
	if (*v < '0' || *v > '9' || *end != '\0' || errno == ERANGE || s > UINT32_MAX)
		FAIL("%s: not a number of seconds", k);
	l->lease = s;
	return 0;
}

static int
f_search(const char *k, const char *v, struct lease *l, char *err, size_t errsize)
{
	const char	*tok[LEASE_SEARCH_MAX];
	size_t		 tlen[LEASE_SEARCH_MAX], i;

	if (split(v, tok, tlen, LEASE_SEARCH_MAX, &l->nsearch) == -1)
		FAIL("%s: more than %d domains", k, LEASE_SEARCH_MAX);
	for (i = 0; i < l->nsearch; i++) {
		if (!dns_name_ok(tok[i], tlen[i]))
			FAIL("%s: \"%.*s\" is not a domain name", k, (int)tlen[i], tok[i]);
		memcpy(l->search[i], tok[i], tlen[i]);
		l->search[i][tlen[i]] = '\0';
	}
	return 0;
}

static int
f_domain(const char *k, const char *v, struct lease *l, char *err, size_t errsize)
{
	if (!dns_name_ok(v, strlen(v)))
		FAIL("%s: not a domain name", k);
	strcpy(l->domain, v);		/* dns_name_ok: at most 253 */
	return 0;
}

static int
f_hostname(const char *k, const char *v, struct lease *l, char *err, size_t errsize)
{
	const char	*p;

	if (!dns_name_ok(v, strlen(v)))
		FAIL("%s: not a host name", k);
	for (p = v; *p != '\0'; p++) {
		if (strncasecmp(p, "metadata.google.internal", 24) == 0) {
			l->hostname_refused = 1;
			return 0;
		}
	}
	strcpy(l->hostname, v);
	return 0;
}

static const struct field {
	const char	*key;
	int		(*parse)(const char *, const char *, struct lease *, char *, size_t);
} fields[] = {
	{ "interface", f_interface },
	{ "ip", f_ip },
	{ "subnet", f_subnet },
	{ "router", f_router },
	{ "staticroutes", f_staticroutes },
	{ "mtu", f_mtu },
	{ "dns", f_dns },
	{ "ntpsrv", f_ntpsrv },
	{ "search", f_search },
	{ "domain", f_domain },
	{ "hostname", f_hostname },
	{ "lease", f_lease },
	{ "serverid", f_serverid },
};
#define NFIELDS	(sizeof(fields) / sizeof(fields[0]))

/*
 * Fills l from udhcpc's environment (or the lease file: the same
 * key=value lines). Other variables are ignored; of a key given twice the
 * first counts, as with getenv(3). ip is required; without subnet the
 * address is a /32, without interface it is eth0. On -1 (EINVAL), err
 * says which field is wrong and why.
 */
int
dhcp_lease_parse(const char *const envp[], struct lease *l, char *err, size_t errsize)
{
	const char	*e, *eq;
	unsigned	 seen = 0;
	size_t		 i, j, kl;

	memset(l, 0, sizeof(*l));
	snprintf(err, errsize, "ok");
	strcpy(l->ifname, "eth0");
	l->prefix = 32;
	for (i = 0; envp[i] != NULL; i++) {
		e = envp[i];
		if ((eq = strchr(e, '=')) == NULL)
			continue;
		kl = eq - e;
		for (j = 0; j < NFIELDS; j++)
			if (strlen(fields[j].key) == kl && memcmp(fields[j].key, e, kl) == 0)
				break;
		if (j == NFIELDS || (seen & 1u << j))
			continue;
		seen |= 1u << j;
		if (strlen(eq + 1) > LEASE_VALUE_MAX) {
			snprintf(err, errsize, "%s: value longer than %d bytes",
			    fields[j].key, LEASE_VALUE_MAX);
			goto bad;
		}
		if (fields[j].parse(fields[j].key, eq + 1, l, err, errsize) == -1)
			goto bad;
	}
	if (!(seen & 1u << 1)) {
		snprintf(err, errsize, "ip: missing");
		goto bad;
	}
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

/*
 * The routes to install, in order: option 121's if it came, else the
 * router through its own /32 link route, then the default via it.
 */
size_t
lease_routes(const struct lease *l, struct lease_route *r, size_t max)
{
	size_t	 n = 0;

	if (l->nroutes > 0) {
		for (; n < l->nroutes && n < max; n++)
			r[n] = l->routes[n];
		return n;
	}
	if (l->router.s_addr == 0 || max < 2)
		return 0;
	r[0].dst = l->router;
	r[0].prefix = 32;
	r[0].gw.s_addr = 0;
	r[1].dst.s_addr = 0;
	r[1].prefix = 0;
	r[1].gw = l->router;
	return 2;
}

/* The default route's gateway, 0.0.0.0 if none. */
struct in_addr
lease_gateway(const struct lease *l)
{
	struct lease_route	 r[LEASE_ROUTES_MAX];
	struct in_addr		 none = { 0 };
	size_t			 n = lease_routes(l, r, LEASE_ROUTES_MAX), i;

	for (i = 0; i < n; i++)
		if (r[i].prefix == 0)
			return r[i].gw;
	return none;
}

static const char *
ntoa(struct in_addr a, char buf[INET_ADDRSTRLEN])
{
	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

static void
add_addrs(struct text *t, const char *key, const struct in_addr *a, size_t n)
{
	char	 s[INET_ADDRSTRLEN];
	size_t	 i;

	if (n == 0)
		return;
	text_add(t, "%s=", key);
	for (i = 0; i < n; i++)
		text_add(t, "%s%s", i ? " " : "", ntoa(a[i], s));
	text_add(t, "\n");
}

/* The lease file: key=value lines that dhcp_lease_parse reads back. Its length, or -1. */
int
lease_format(const struct lease *l, char *buf, size_t size)
{
	struct text	 t;
	char		 a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
	struct in_addr	 m = { htonl(ip4_mask(l->prefix)) };
	size_t		 i;

	text_init(&t, buf, size);
	text_add(&t, "interface=%s\nip=%s\nsubnet=%s\n", l->ifname, ntoa(l->ip, a),
	    ntoa(m, b));
	if (l->router.s_addr)
		text_add(&t, "router=%s\n", ntoa(l->router, a));
	if (l->nroutes > 0) {
		text_add(&t, "staticroutes=");
		for (i = 0; i < l->nroutes; i++)
			text_add(&t, "%s%s/%d %s", i ? " " : "", ntoa(l->routes[i].dst, a),
			    l->routes[i].prefix, ntoa(l->routes[i].gw, b));
		text_add(&t, "\n");
	}
	if (l->mtu)
		text_add(&t, "mtu=%u\n", l->mtu);
	add_addrs(&t, "dns", l->dns, l->ndns);
	add_addrs(&t, "ntpsrv", l->ntp, l->nntp);
	if (l->nsearch > 0) {
		text_add(&t, "search=");
		for (i = 0; i < l->nsearch; i++)
			text_add(&t, "%s%s", i ? " " : "", l->search[i]);
		text_add(&t, "\n");
	}
	if (l->domain[0])
		text_add(&t, "domain=%s\n", l->domain);
	if (l->hostname[0])
		text_add(&t, "hostname=%s\n", l->hostname);
	text_add(&t, "lease=%u\n", l->lease);
	if (l->serverid.s_addr)
		text_add(&t, "serverid=%s\n", ntoa(l->serverid, a));
	return text_done(&t);
}

/* /etc/resolv.conf: the lease's servers and search domains. */
int
resolv_format(const struct lease *l, char *buf, size_t size)
{
	struct text	 t;
	char		 a[INET_ADDRSTRLEN];
	size_t		 i;

	text_init(&t, buf, size);
	text_add(&t, "# from the DHCP lease of %s (nestbox)\n", l->ifname);
	for (i = 0; i < l->ndns; i++)
		text_add(&t, "nameserver %s\n", ntoa(l->dns[i], a));
	if (l->nsearch > 0) {
		text_add(&t, "search");
		for (i = 0; i < l->nsearch; i++)
			text_add(&t, " %s", l->search[i]);
		text_add(&t, "\n");
	} else if (l->domain[0])
		text_add(&t, "search %s\n", l->domain);
	return text_done(&t);
}

/*
 * /etc/hosts: localhost, the metadata server by its names (as GCE's guest
 * agent writes it, so it resolves even when DNS does not), and this host.
 */
int
hosts_format(const struct lease *l, char *buf, size_t size)
{
	struct text	 t;
	char		 a[INET_ADDRSTRLEN];
	size_t		 dot = strcspn(l->hostname, ".");

	text_init(&t, buf, size);
	text_add(&t, "127.0.0.1\tlocalhost\n::1\tlocalhost\n"
	    "169.254.169.254\tmetadata.google.internal metadata\n");
	if (l->hostname[0] != '\0') {
		text_add(&t, "%s\t%s", ntoa(l->ip, a), l->hostname);
		if (l->hostname[dot] == '.')
			text_add(&t, " %.*s", (int)dot, l->hostname);
		text_add(&t, "\n");
	}
	return text_done(&t);
}

/* Reads a lease file back; err says what is wrong with it. */
int
lease_read(const char *path, struct lease *l, char *err, size_t errsize)
{
	const char	*envp[LEASE_LINES_MAX + 1];
	char		*text, *cur, *line;
	size_t		 len, n = 0;
	int		 rv;

	if ((text = read_file(path, LEASE_FILE_MAX, &len)) == NULL) {
		snprintf(err, errsize, "%s", strerror(errno));
		return -1;
	}
	cur = text;
	while (n < LEASE_LINES_MAX && (line = next_line(&cur, text + len)) != NULL)
		envp[n++] = line;
	envp[n] = NULL;
	rv = dhcp_lease_parse(envp, l, err, errsize);
	free(text);
	return rv;
}

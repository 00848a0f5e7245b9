/*
 * The L2 network's configuration: libvirt's default network (virbr0,
 * 192.168.122.1/24, DHCP .2-.254) unless the nestbox-network metadata value
 * overrides part of it:
 *
 *   {"subnet": "10.20.0.0/24", "dhcp_range": "10.20.0.10-10.20.0.99",
 *    "mtu": 1400, "lease_time": 86400}
 *
 * Every field is optional. The subnet is a private IPv4 range with a prefix
 * of 16..29; a host part of zero means "the bridge takes the first address",
 * any other host part is the bridge's address. The DHCP range lies inside the
 * subnet and leaves out the bridge's address; by default it is the rest of
 * the subnet. The MTU is 576..9000 and never above eth0's (netconf_mtu()).
 * The lease time is in seconds, 120 (dnsmasq's minimum) to a year.
 *
 * netconf_parse() is pure: it reads the value and nothing else, so every
 * error can be unit tested with its exact message.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "net/net-internal.h"

#define ERR_PREFIX	"nestbox-network: "
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static const struct {
	uint32_t	 net;
	int		 prefix;
} private[] = {
	{ 0x0a000000, 8 },	/* 10.0.0.0/8 */
	{ 0xac100000, 12 },	/* 172.16.0.0/12 */
	{ 0xc0a80000, 16 },	/* 192.168.0.0/16 */
};

uint32_t
ip4_mask(int prefix)
{
	return prefix <= 0 ? 0 : prefix >= 32 ? 0xffffffff :
	    ~(uint32_t)0 << (32 - prefix);
}

/* Strict dotted quad: four decimal numbers 0..255, no leading zeros. */
int
ip4_parse(const char *s, size_t len, uint32_t *out)
{
	uint32_t	 a = 0, v;
	size_t		 i = 0, digits;
	int		 part;

	for (part = 0; part < 4; part++) {
		if (part > 0) {
			if (i >= len || s[i] != '.')
				goto bad;
			i++;
		}
		for (v = 0, digits = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
			if (digits > 0 && v == 0)
				goto bad;	/* leading zero */
			v = v * 10 + (uint32_t)(s[i] - '0');
			if (++digits > 3 || v > 255)
				goto bad;
		}
		if (digits == 0)
			goto bad;
		a = a << 8 | v;
	}
	if (i != len)
		goto bad;
	*out = a;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

/* "192.168.122.1" in buf, which has room for 16 bytes. */
const char *
ip4_str(uint32_t a, char *buf)
{
	snprintf(buf, IP4_STRLEN, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff,
	    (a >> 8) & 0xff, a & 0xff);
	return buf;
}

void
netconf_default(struct netconf *nc)
{
	nc->addr = 0xc0a87a01;		/* 192.168.122.1 */
	nc->prefix = 24;
	nc->range_start = 0xc0a87a02;	/* .2 */
	nc->range_end = 0xc0a87afe;	/* .254 */
	nc->mtu = 0;
	nc->lease = NETCONF_LEASE;
}

uint32_t
netconf_network(const struct netconf *nc)
{
	return nc->addr & ip4_mask(nc->prefix);
}

uint32_t
netconf_broadcast(const struct netconf *nc)
{
	return netconf_network(nc) | ~ip4_mask(nc->prefix);
}

int
netconf_contains(const struct netconf *nc, uint32_t a)
{
	return (a & ip4_mask(nc->prefix)) == netconf_network(nc);
}

/* The bridge's MTU: the override, else eth0's, never above eth0's. */
int
netconf_mtu(const struct netconf *nc, int eth0_mtu)
{
	if (nc->mtu == 0)
		return eth0_mtu > 0 ? eth0_mtu : 1500;
	if (eth0_mtu > 0 && nc->mtu > eth0_mtu)
		return eth0_mtu;
	return nc->mtu;
}

/* The number of addresses the DHCP range hands out. */
unsigned
netconf_range_size(const struct netconf *nc)
{
	unsigned	 n = nc->range_end - nc->range_start + 1;

	if (nc->addr >= nc->range_start && nc->addr <= nc->range_end)
		n--;
	return n;
}

static int
fail(char *err, size_t errlen, const char *fmt, ...) NB_PRINTF(3, 4);

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	if (errlen > 0) {
		n = snprintf(err, errlen, "%s", ERR_PREFIX);
		if (n >= 0 && (size_t)n < errlen) {
			va_start(ap, fmt);
			vsnprintf(err + n, errlen - n, fmt, ap);
			va_end(ap);
		}
	}
	errno = EINVAL;
	return -1;
}

static int
parse_subnet(const cJSON *v, struct netconf *nc, char *err, size_t errlen)
{
	const char	*s, *slash;
	char		 q[48];
	uint32_t	 addr, host, net;
	unsigned	 prefix = 0;
	size_t		 i;

	if (!cJSON_IsString(v))
		return fail(err, errlen, "subnet: not a string");
	s = v->valuestring;
	if ((slash = strchr(s, '/')) == NULL || slash[1] == '\0' ||
	    strlen(slash + 1) > 2 || ip4_parse(s, slash - s, &addr) == -1)
		goto bad;
	for (i = 1; slash[i] != '\0'; i++) {
		if (slash[i] < '0' || slash[i] > '9' || (i == 1 && slash[i] == '0'))
			goto bad;
		prefix = prefix * 10 + (unsigned)(slash[i] - '0');
	}
	if (prefix > 32)
		goto bad;
	if (prefix < 16)
		return fail(err, errlen, "subnet: %s is too large (prefix 16..29)",
		    str_quote(s, q, sizeof(q)));
	if (prefix > 29)
		return fail(err, errlen, "subnet: %s is too small (prefix 16..29)",
		    str_quote(s, q, sizeof(q)));
	net = addr & ip4_mask(prefix);
	for (i = 0; i < NELEM(private); i++)
		if ((net & ip4_mask(private[i].prefix)) == private[i].net)
			break;
	/* So it can never overlap 169.254.0.0/16, the metadata server's. */
	if (i == NELEM(private))
		return fail(err, errlen, "subnet: %s is not a private range "
		    "(10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)", str_quote(s, q, sizeof(q)));
	host = addr & ~ip4_mask(prefix);
	if (host == ~ip4_mask(prefix))
		return fail(err, errlen, "subnet: %s is the broadcast address, "
		    "not one for the bridge", str_quote(s, q, sizeof(q)));
	nc->addr = host == 0 ? net + 1 : addr;
	nc->prefix = (int)prefix;
	/* The default range: the larger side of the subnet around the bridge. */
	if (nc->addr - net - 1 > netconf_broadcast(nc) - 1 - nc->addr) {
		nc->range_start = net + 1;
		nc->range_end = nc->addr - 1;
	} else {
		nc->range_start = nc->addr + 1;
		nc->range_end = netconf_broadcast(nc) - 1;
	}
	return 0;
bad:
	return fail(err, errlen, "subnet: \"%s\" is not an IPv4 subnet (a.b.c.d/n)",
	    str_quote(s, q, sizeof(q)));
}

static int
parse_range(const cJSON *v, struct netconf *nc, char *err, size_t errlen)
{
	const char	*s, *dash;
	char		 q[48], a[IP4_STRLEN], b[IP4_STRLEN], n[IP4_STRLEN];
	uint32_t	 first, last, bad;

	if (!cJSON_IsString(v))
		return fail(err, errlen, "dhcp_range: not a string");
	s = v->valuestring;
	if ((dash = strchr(s, '-')) == NULL || ip4_parse(s, dash - s, &first) == -1 ||
	    ip4_parse(dash + 1, strlen(dash + 1), &last) == -1)
		return fail(err, errlen, "dhcp_range: \"%s\" is not a range "
		    "(first-last)", str_quote(s, q, sizeof(q)));
	if (!netconf_contains(nc, first) || !netconf_contains(nc, last))
		return fail(err, errlen, "dhcp_range: %s is outside the subnet %s/%d",
		    ip4_str(netconf_contains(nc, first) ? last : first, a),
		    ip4_str(netconf_network(nc), n), nc->prefix);
	if (last < first)
		return fail(err, errlen, "dhcp_range: %s ends before it starts",
		    str_quote(s, q, sizeof(q)));
	if (first == netconf_network(nc) || last == netconf_broadcast(nc)) {
		bad = first == netconf_network(nc) ? first : last;
		return fail(err, errlen, "dhcp_range: %s is the subnet's %s address",
		    ip4_str(bad, a), bad == first ? "network" : "broadcast");
	}
	if (nc->addr >= first && nc->addr <= last)
		return fail(err, errlen, "dhcp_range: %s-%s includes the bridge's "
		    "address %s", ip4_str(first, a), ip4_str(last, b), ip4_str(nc->addr, n));
	nc->range_start = first;
	nc->range_end = last;
	return 0;
}

static int
parse_int(const cJSON *v, const char *field, double min, double max, int *out,
    char *err, size_t errlen)
{
	double	 d;

	if (!cJSON_IsNumber(v))
		return fail(err, errlen, "%s: not a number", field);
	d = v->valuedouble;
	/* the range first: a cast of a huge double is undefined */
	if (!(d >= min && d <= max) || d != (double)(int)d)
		return fail(err, errlen, "%s: %.15g is out of range (%.0f..%.0f)",
		    field, d, min, max);
	*out = (int)d;
	return 0;
}

/*
 * Parses the nestbox-network value (json, len bytes, need not end in a NUL)
 * into *nc: the defaults with the value's overrides. An empty value means
 * the defaults. On error, *nc is unchanged and err says which field is wrong
 * and why, starting with "nestbox-network: ".
 */
int
netconf_parse(const char *json, size_t len, struct netconf *nc, char *err,
    size_t errlen)
{
	static const char *const fields[] = { "subnet", "dhcp_range", "mtu", "lease_time" };
	const cJSON	*v, *seen[NELEM(fields)] = { NULL };
	cJSON		*root = NULL;
	const char	*end = NULL;
	struct netconf	 new;
	char		 q[48], why[64];
	size_t		 i;
	int		 n;

	if (errlen > 0)
		err[0] = '\0';
	netconf_default(&new);
	for (i = 0; i < len && is_space(json[i]); i++)
		;
	if (i == len)
		goto done;
	if (json_strict(json, len, JSON_NEST_MAX, &i, why, sizeof(why)) == -1)
		return fail(err, errlen, "not valid JSON (%s at byte %zu)", why, i);
	if ((root = cJSON_ParseWithLengthOpts(json, len, &end, 0)) == NULL) {
		n = end != NULL && end >= json && (size_t)(end - json) <= len ?
		    (int)(end - json) : 0;
		return fail(err, errlen, "not valid JSON (at byte %d)", n);
	}
	for (i = end - json; i < len && is_space(json[i]); i++)
		;
	if (i < len) {
		fail(err, errlen, "not valid JSON (more after the document at byte %zu)", i);
		goto err;
	}
	if (!cJSON_IsObject(root)) {
		fail(err, errlen, "not a JSON object");
		goto err;
	}
	for (v = root->child; v != NULL; v = v->next) {
		for (i = 0; i < NELEM(fields); i++)
			if (strcmp(v->string, fields[i]) == 0)
				break;
		if (i == NELEM(fields)) {
			fail(err, errlen, "%s: unknown field (subnet, dhcp_range, mtu, "
			    "lease_time)", str_quote(v->string, q, sizeof(q)));
			goto err;
		}
		if (seen[i] != NULL) {
			fail(err, errlen, "%s: given twice", fields[i]);
			goto err;
		}
		seen[i] = v;
	}
	/* The subnet first: the range is checked against it. */
	if (seen[0] != NULL && parse_subnet(seen[0], &new, err, errlen) == -1)
		goto err;
	if (seen[1] != NULL && parse_range(seen[1], &new, err, errlen) == -1)
		goto err;
	if (seen[2] != NULL && parse_int(seen[2], "mtu", NETCONF_MTU_MIN,
	    NETCONF_MTU_MAX, &new.mtu, err, errlen) == -1)
		goto err;
	if (seen[3] != NULL) {
		if (parse_int(seen[3], "lease_time", NETCONF_LEASE_MIN,
		    NETCONF_LEASE_MAX, &n, err, errlen) == -1)
			goto err;
		new.lease = (unsigned)n;
	}
	cJSON_Delete(root);
done:
	*nc = new;
	return 0;
err:
	cJSON_Delete(root);
	errno = EINVAL;
	return -1;
}

/* The checks that need eth0's address (host order; 0: not known yet). */
int
netconf_check(const struct netconf *nc, uint32_t eth0_addr, char *err,
    size_t errlen)
{
	char	 a[IP4_STRLEN], n[IP4_STRLEN];

	if (errlen > 0)
		err[0] = '\0';
	if (eth0_addr != 0 && netconf_contains(nc, eth0_addr))
		return fail(err, errlen, "subnet: %s/%d contains eth0's address %s",
		    ip4_str(netconf_network(nc), n), nc->prefix, ip4_str(eth0_addr, a));
	return 0;
}

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "unit.h"

/* What udhcpc puts in its script's environment for GCE's lease. */
static const char *const gce[] = {
	"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
	"interface=eth0",
	"ip=10.128.0.2",
	"siaddr=169.254.169.254",
	"subnet=255.255.255.255",
	"router=10.128.0.1",
	"staticroutes=10.128.0.1/32 0.0.0.0 0.0.0.0/0 10.128.0.1",
	"mtu=1460",
	"dns=169.254.169.254",
	"ntpsrv=169.254.169.254",
	"search=c.nestbox-test.internal google.internal",
	"domain=c.nestbox-test.internal",
	"hostname=l1.c.nestbox-test.internal",
	"lease=86400",
	"serverid=169.254.169.254",
	"opt53=05",
	NULL
};

static const char *
ntoa(struct in_addr a)
{
	static char	 buf[4][INET_ADDRSTRLEN];
	static int	 i;

	i = (i + 1) % 4;
	return inet_ntop(AF_INET, &a, buf[i], INET_ADDRSTRLEN);
}

static void
lease_gce(void **state)
{
	struct lease		 l;
	struct lease_route	 r[LEASE_ROUTES_MAX];
	char			 err[160];

	(void)state;
	assert_int_equal(dhcp_lease_parse(gce, &l, err, sizeof(err)), 0);
	assert_string_equal(l.ifname, "eth0");
	assert_string_equal(ntoa(l.ip), "10.128.0.2");
	assert_int_equal(l.prefix, 32);
	assert_string_equal(ntoa(l.router), "10.128.0.1");
	assert_int_equal(l.nroutes, 2);
	assert_int_equal(l.mtu, 1460);
	assert_int_equal(l.ndns, 1);
	assert_string_equal(ntoa(l.dns[0]), "169.254.169.254");
	assert_int_equal(l.nntp, 1);
	assert_int_equal(l.nsearch, 2);
	assert_string_equal(l.search[1], "google.internal");
	assert_string_equal(l.hostname, "l1.c.nestbox-test.internal");
	assert_int_equal(l.lease, 86400);
	/* the gateway's own /32 link route first, then the default via it */
	assert_int_equal(lease_routes(&l, r, LEASE_ROUTES_MAX), 2);
	assert_string_equal(ntoa(r[0].dst), "10.128.0.1");
	assert_int_equal(r[0].prefix, 32);
	assert_int_equal(r[0].gw.s_addr, 0);
	assert_int_equal(r[1].prefix, 0);
	assert_string_equal(ntoa(r[1].gw), "10.128.0.1");
	assert_string_equal(ntoa(lease_gateway(&l)), "10.128.0.1");
}

/* Without option 121: the router through its own /32, then the default. */
static void
lease_router_only(void **state)
{
	const char *const	 env[] = { "ip=192.168.1.20", "subnet=255.255.255.0",
	    "router=192.168.1.1 192.168.1.2", NULL };
	struct lease		 l;
	struct lease_route	 r[LEASE_ROUTES_MAX];
	char			 err[160];

	(void)state;
	assert_int_equal(dhcp_lease_parse(env, &l, err, sizeof(err)), 0);
	assert_int_equal(l.prefix, 24);
	assert_int_equal(l.mtu, 0);
	assert_int_equal(lease_routes(&l, r, LEASE_ROUTES_MAX), 2);
	assert_string_equal(ntoa(r[0].dst), "192.168.1.1");
	assert_int_equal(r[0].prefix, 32);
	assert_string_equal(ntoa(r[1].gw), "192.168.1.1");
	/* neither: no routes, no gateway */
	assert_int_equal(dhcp_lease_parse((const char *[]){ "ip=10.0.0.5", NULL }, &l,
	    err, sizeof(err)), 0);
	assert_int_equal(lease_routes(&l, r, LEASE_ROUTES_MAX), 0);
	assert_int_equal(lease_gateway(&l).s_addr, 0);
}

static const struct {
	const char	*var;
	const char	*err;
} bad[] = {
	{ "ip=10.128.0", "ip: not an IPv4 address" },
	{ "ip=10.128.0.256", "ip: not an IPv4 address" },
	{ "ip=010.128.0.2", "ip: not an IPv4 address" },
	{ "ip=10.128.0.2 ", "ip: not an IPv4 address" },
	{ "ip=0.0.0.0", "ip: 0.0.0.0 is not a unicast address" },
	{ "ip=127.0.0.1", "ip: 127.0.0.1 is not a unicast address" },
	{ "ip=224.0.0.1", "ip: 224.0.0.1 is not a unicast address" },
	{ "subnet=255.0.255.0", "subnet: 255.0.255.0 is not a contiguous netmask" },
	{ "subnet=255.255.255.2555", "subnet: not a netmask" },
	{ "router=10.128.0.1;reboot", "router: \"10.128.0.1;reboot\" is not an IPv4 address" },
	{ "router=1.1.1.1 2.2.2.2 3.3.3.3 4.4.4.4", "router: more than 3 addresses" },
	{ "staticroutes=10.0.0.0/8", "staticroutes: a destination without a gateway" },
	{ "staticroutes=10.0.0.0/33 10.128.0.1", "staticroutes: \"10.0.0.0/33\" is not a destination a.b.c.d/0-32" },
	{ "staticroutes=10.0.0.1/24 10.128.0.1", "staticroutes: \"10.0.0.1/24\" is not a destination a.b.c.d/0-32" },
	{ "staticroutes=10.0.0.0 10.128.0.1", "staticroutes: \"10.0.0.0\" is not a destination a.b.c.d/0-32" },
	{ "staticroutes=10.0.0.0/08 10.128.0.1", "staticroutes: \"10.0.0.0/08\" is not a destination a.b.c.d/0-32" },
	{ "staticroutes=10.0.0.0/ 10.128.0.1", "staticroutes: \"10.0.0.0/\" is not a destination a.b.c.d/0-32" },
	{ "staticroutes=10.0.0.0/8 10.128.0.x", "staticroutes: \"10.128.0.x\" is not a gateway address" },
	{ "mtu=abc", "mtu: not a number" },
	{ "mtu=-1460", "mtu: not a number" },
	{ "mtu=1460x", "mtu: not a number" },
	{ "mtu=", "mtu: not a number" },
	{ "mtu=99999999999999999999", "mtu: not a number" },
	{ "dns=169.254.169.254 8.8.8.8 8.8.4.4 1.1.1.1", "dns: more than 3 addresses" },
	{ "dns=0.0.0.0", "dns: \"0.0.0.0\" is not an IPv4 address" },
	{ "ntpsrv=ntp.example", "ntpsrv: \"ntp.example\" is not an IPv4 address" },
	{ "search=a..b", "search: \"a..b\" is not a domain name" },
	{ "search=a b c d e f g", "search: more than 6 domains" },
	{ "search=-a.example", "search: \"-a.example\" is not a domain name" },
	{ "domain=x\nnameserver 6.6.6.6", "domain: not a domain name" },
	{ "domain=a-.example", "domain: not a domain name" },
	{ "hostname=bad_name", "hostname: not a host name" },
	{ "hostname=", "hostname: not a host name" },
	{ "lease=99999999999", "lease: not a number of seconds" },
	{ "lease=1h", "lease: not a number of seconds" },
	{ "serverid=1.2.3", "serverid: not an IPv4 address" },
	{ "interface=../eth0", "interface: not an interface name" },
	{ "interface=averyveryverylongname", "interface: not an interface name" },
};

static void
lease_malformed(void **state)
{
	const char	*env[32];
	struct lease	 l;
	char		 err[160];
	size_t		 i, j, n;

	(void)state;
	for (i = 0; i < NTESTS(bad); i++) {
		/* the bad variable first, so it counts before GCE's own value */
		env[0] = bad[i].var;
		for (n = 1, j = 0; gce[j] != NULL; j++)
			env[n++] = gce[j];
		env[n] = NULL;
		errno = 0;
		if (dhcp_lease_parse(env, &l, err, sizeof(err)) != -1)
			fail_msg("accepted %s", bad[i].var);
		assert_int_equal(errno, EINVAL);
		assert_string_equal(err, bad[i].err);
	}
	assert_int_equal(dhcp_lease_parse((const char *[]){ "subnet=255.255.255.0", NULL },
	    &l, err, sizeof(err)), -1);
	assert_string_equal(err, "ip: missing");
}

static void
lease_overlong(void **state)
{
	const char	*env[] = { NULL, "ip=10.128.0.2", NULL };
	char		*v = malloc(LEASE_VALUE_MAX + 32), err[160];
	struct lease	 l;
	size_t		 i;

	(void)state;
	assert_non_null(v);
	strcpy(v, "staticroutes=");
	for (i = strlen(v); i < LEASE_VALUE_MAX + 20; i++)
		v[i] = i % 2 ? '1' : ' ';
	v[i] = '\0';
	env[0] = v;
	assert_int_equal(dhcp_lease_parse(env, &l, err, sizeof(err)), -1);
	assert_string_equal(err, "staticroutes: value longer than 1024 bytes");
	/* 17 routes: one too many */
	strcpy(v, "staticroutes=");
	for (i = 0; i < LEASE_ROUTES_MAX + 1; i++)
		sprintf(v + strlen(v), "%s10.%zu.0.0/16 10.128.0.1", i ? " " : "", i);
	assert_int_equal(dhcp_lease_parse(env, &l, err, sizeof(err)), -1);
	assert_string_equal(err, "staticroutes: more than 16 routes");
	/* 16 are fine */
	strcpy(v, "staticroutes=");
	for (i = 0; i < LEASE_ROUTES_MAX; i++)
		sprintf(v + strlen(v), "%s10.%zu.0.0/16 10.128.0.1", i ? " " : "", i);
	assert_int_equal(dhcp_lease_parse(env, &l, err, sizeof(err)), 0);
	assert_int_equal(l.nroutes, LEASE_ROUTES_MAX);
	/* a 254-byte domain name is one too long */
	strcpy(v, "domain=");
	for (i = 0; i < 254; i++)
		strcat(v, i % 50 == 49 ? "." : "a");
	assert_int_equal(dhcp_lease_parse(env, &l, err, sizeof(err)), -1);
	free(v);
}

static void
lease_mtu(void **state)
{
	const char	*env[] = { NULL, "ip=10.128.0.2", NULL };
	struct lease	 l;
	char		 err[160];

	(void)state;
	env[0] = "mtu=100";
	assert_int_equal(dhcp_lease_parse(env, &l, err, sizeof(err)), 0);
	assert_int_equal(l.mtu, 0);
	assert_int_equal(l.mtu_refused, 100);
	env[0] = "mtu=9001";
	assert_int_equal(dhcp_lease_parse(env, &l, err, sizeof(err)), 0);
	assert_int_equal(l.mtu, 0);
	assert_int_equal(l.mtu_refused, 9001);
	env[0] = "mtu=576";
	assert_int_equal(dhcp_lease_parse(env, &l, err, sizeof(err)), 0);
	assert_int_equal(l.mtu, 576);
	assert_int_equal(l.mtu_refused, 0);
	env[0] = "mtu=8896";
	assert_int_equal(dhcp_lease_parse(env, &l, err, sizeof(err)), 0);
	assert_int_equal(l.mtu, 8896);
}

/* A DHCP hostname naming the metadata server is refused; the lease stays. */
static void
lease_hostname_takeover(void **state)
{
	static const char *const names[] = {
		"hostname=metadata.google.internal",
		"hostname=METADATA.Google.Internal",
		"hostname=evil.metadata.google.internal.example.com",
	};
	const char	*env[] = { NULL, "ip=10.128.0.2", NULL };
	struct lease	 l;
	char		 err[160], buf[512];
	size_t		 i;

	(void)state;
	for (i = 0; i < NTESTS(names); i++) {
		env[0] = names[i];
		assert_int_equal(dhcp_lease_parse(env, &l, err, sizeof(err)), 0);
		assert_int_equal(l.hostname_refused, 1);
		assert_string_equal(l.hostname, "");
		assert_true(hosts_format(&l, buf, sizeof(buf)) > 0);
		assert_null(strstr(buf, "10.128.0.2"));
	}
	env[0] = "hostname=metadata";
	assert_int_equal(dhcp_lease_parse(env, &l, err, sizeof(err)), 0);
	assert_int_equal(l.hostname_refused, 0);
}

/* The first of a repeated key counts (as getenv); other keys are ignored. */
static void
lease_first_wins(void **state)
{
	const char *const	 env[] = { "ip=10.0.0.1", "ip=10.0.0.2", "junk", "=x",
	    "mtu2=1", NULL };
	struct lease		 l;
	char			 err[160];

	(void)state;
	assert_int_equal(dhcp_lease_parse(env, &l, err, sizeof(err)), 0);
	assert_string_equal(ntoa(l.ip), "10.0.0.1");
}

static const char lease_golden[] =
    "interface=eth0\n"
    "ip=10.128.0.2\n"
    "subnet=255.255.255.255\n"
    "router=10.128.0.1\n"
    "staticroutes=10.128.0.1/32 0.0.0.0 0.0.0.0/0 10.128.0.1\n"
    "mtu=1460\n"
    "dns=169.254.169.254\n"
    "ntpsrv=169.254.169.254\n"
    "search=c.nestbox-test.internal google.internal\n"
    "domain=c.nestbox-test.internal\n"
    "hostname=l1.c.nestbox-test.internal\n"
    "lease=86400\n"
    "serverid=169.254.169.254\n";

static const char resolv_golden[] =
    "# from the DHCP lease of eth0 (nestbox)\n"
    "nameserver 169.254.169.254\n"
    "search c.nestbox-test.internal google.internal\n";

static const char hosts_golden[] =
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost\n"
    "169.254.169.254\tmetadata.google.internal metadata\n"
    "10.128.0.2\tl1.c.nestbox-test.internal l1\n";

static void
lease_files(void **state)
{
	struct lease	 l, back;
	char		 err[160], buf[2048], path[4096], *dir = tmpdir();
	size_t		 need, size;

	(void)state;
	assert_int_equal(dhcp_lease_parse(gce, &l, err, sizeof(err)), 0);
	assert_int_equal(lease_format(&l, buf, sizeof(buf)), strlen(lease_golden));
	assert_string_equal(buf, lease_golden);
	assert_int_equal(resolv_format(&l, buf, sizeof(buf)), strlen(resolv_golden));
	assert_string_equal(buf, resolv_golden);
	assert_int_equal(hosts_format(&l, buf, sizeof(buf)), strlen(hosts_golden));
	assert_string_equal(buf, hosts_golden);
	/* too small a buffer: ENOSPC, at every size */
	need = strlen(lease_golden);
	for (size = 0; size <= need; size++) {
		assert_int_equal(lease_format(&l, buf, size), -1);
		assert_int_equal(errno, ENOSPC);
	}
	/* the lease file reads back as the same lease */
	put_file(dir, "lease", lease_golden);
	snprintf(path, sizeof(path), "%s/lease", dir);
	assert_int_equal(lease_read(path, &back, err, sizeof(err)), 0);
	assert_memory_equal(&l, &back, sizeof(l));
	put_file(dir, "lease", "ip=10.128.0.2\nmtu=x\n");
	assert_int_equal(lease_read(path, &back, err, sizeof(err)), -1);
	assert_string_equal(err, "mtu: not a number");
	snprintf(path, sizeof(path), "%s/none", dir);
	assert_int_equal(lease_read(path, &back, err, sizeof(err)), -1);
	assert_int_equal(errno, ENOENT);
	rmtree(dir);
	/* only a domain: it is the search list */
	assert_int_equal(dhcp_lease_parse((const char *[]){ "ip=10.0.0.5",
	    "domain=example.com", "dns=10.0.0.1 10.0.0.2", NULL }, &l, err, sizeof(err)), 0);
	assert_true(resolv_format(&l, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "# from the DHCP lease of eth0 (nestbox)\n"
	    "nameserver 10.0.0.1\nnameserver 10.0.0.2\nsearch example.com\n");
}

static void
cidrs(void **state)
{
	struct in_addr	 a;
	int		 p;

	(void)state;
	assert_int_equal(cidr_parse("10.128.16.0/28", 14, &a, &p), 0);
	assert_int_equal(p, 28);
	assert_int_equal(cidr_parse("10.128.16.7", 11, &a, &p), 0);
	assert_int_equal(p, 32);
	assert_int_equal(cidr_parse("0.0.0.0/0", 9, &a, &p), 0);
	assert_int_equal(p, 0);
	assert_int_equal(cidr_parse("10.128.16.1/28", 14, &a, &p), -1);
	assert_int_equal(ifaddr_parse("10.128.16.1/28", 14, &a, &p), 0);
	assert_int_equal(cidr_parse("10.128.16.0/33", 14, &a, &p), -1);
	assert_int_equal(cidr_parse("10.128.16.0/-1", 14, &a, &p), -1);
	assert_int_equal(cidr_parse("10.128.16.0/", 12, &a, &p), -1);
	assert_int_equal(cidr_parse("/24", 3, &a, &p), -1);
	/* the length is honoured: no NUL needed */
	assert_int_equal(cidr_parse("10.1.2.3/8xyz", 9, &a, &p), -1);
	assert_int_equal(cidr_parse("10.0.0.0/8xyz", 10, &a, &p), 0);
	assert_int_equal(p, 8);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(lease_gce),
	cmocka_unit_test(lease_router_only),
	cmocka_unit_test(lease_malformed),
	cmocka_unit_test(lease_overlong),
	cmocka_unit_test(lease_mtu),
	cmocka_unit_test(lease_hostname_takeover),
	cmocka_unit_test(lease_first_wins),
	cmocka_unit_test(lease_files),
	cmocka_unit_test(cidrs),
};
const struct suite dhcp_suite = { tests, NTESTS(tests) };

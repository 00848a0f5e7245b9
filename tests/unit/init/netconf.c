#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

/* The value is copied to the heap without a NUL: the parser must not need one. */
static int
parse(const char *json, struct netconf *nc, char *err, size_t errlen)
{
	size_t	 len = strlen(json);
	char	*buf = malloc(len ? len : 1);
	int	 rv;

	assert_non_null(buf);
	memcpy(buf, json, len);
	rv = netconf_parse(buf, len, nc, err, errlen);
	free(buf);
	return rv;
}

static void
netconf_defaults(void **state)
{
	struct netconf	 nc, d;
	char		 err[256], a[IP4_STRLEN];

	(void)state;
	netconf_default(&d);
	assert_string_equal(ip4_str(d.addr, a), "192.168.122.1");
	assert_int_equal(d.prefix, 24);
	assert_string_equal(ip4_str(d.range_start, a), "192.168.122.2");
	assert_string_equal(ip4_str(d.range_end, a), "192.168.122.254");
	assert_int_equal(netconf_range_size(&d), 253);
	assert_int_equal(d.lease, 3600);
	assert_int_equal(netconf_parse(NULL, 0, &nc, err, sizeof(err)), 0);
	assert_memory_equal(&nc, &d, sizeof(nc));
	assert_string_equal(err, "");
	assert_int_equal(parse(" \n", &nc, err, sizeof(err)), 0);
	assert_memory_equal(&nc, &d, sizeof(nc));
	assert_int_equal(parse("{}", &nc, err, sizeof(err)), 0);
	assert_memory_equal(&nc, &d, sizeof(nc));
	/* the MTU follows eth0's, never above it */
	assert_int_equal(netconf_mtu(&d, 1460), 1460);
	assert_int_equal(netconf_mtu(&d, 0), 1500);
	d.mtu = 9000;
	assert_int_equal(netconf_mtu(&d, 1460), 1460);
	d.mtu = 1400;
	assert_int_equal(netconf_mtu(&d, 1460), 1400);
	assert_int_equal(netconf_mtu(&d, 0), 1400);
}

static void
netconf_overrides(void **state)
{
	struct netconf	 nc;
	char		 err[256], a[IP4_STRLEN];

	(void)state;
	assert_int_equal(parse("{\"subnet\": \"10.20.0.0/16\", \"mtu\": 1400,"
	    " \"lease_time\": 86400}", &nc, err, sizeof(err)), 0);
	assert_string_equal(ip4_str(nc.addr, a), "10.20.0.1");
	assert_int_equal(nc.prefix, 16);
	assert_string_equal(ip4_str(nc.range_start, a), "10.20.0.2");
	assert_string_equal(ip4_str(nc.range_end, a), "10.20.255.254");
	assert_int_equal(netconf_range_size(&nc), 65533);
	assert_int_equal(nc.mtu, 1400);
	assert_int_equal(nc.lease, 86400);
	/* a host part: the bridge's address; the range takes the larger side */
	assert_int_equal(parse("{\"subnet\":\"172.16.5.200/24\"}", &nc, err, sizeof(err)), 0);
	assert_string_equal(ip4_str(nc.addr, a), "172.16.5.200");
	assert_string_equal(ip4_str(nc.range_start, a), "172.16.5.1");
	assert_string_equal(ip4_str(nc.range_end, a), "172.16.5.199");
	assert_int_equal(parse("{\"subnet\":\"192.168.7.0/29\",\"dhcp_range\":"
	    "\"192.168.7.3-192.168.7.6\"}", &nc, err, sizeof(err)), 0);
	assert_string_equal(ip4_str(nc.range_start, a), "192.168.7.3");
	assert_string_equal(ip4_str(nc.range_end, a), "192.168.7.6");
	assert_int_equal(netconf_range_size(&nc), 4);
	/* a range in the default subnet */
	assert_int_equal(parse("{\"dhcp_range\":\"192.168.122.100-192.168.122.199\"}",
	    &nc, err, sizeof(err)), 0);
	assert_string_equal(ip4_str(nc.addr, a), "192.168.122.1");
	assert_int_equal(netconf_range_size(&nc), 100);
}

static const struct {
	const char	*json;
	const char	*err;
} bad[] = {
	{ "{\"subnet\": \"10.0.0.0/8\"}",
	  "nestbox-network: subnet: 10.0.0.0/8 is too large (prefix 16..29)" },
	{ "{\"subnet\": \"192.168.1.0/30\"}",
	  "nestbox-network: subnet: 192.168.1.0/30 is too small (prefix 16..29)" },
	{ "{\"subnet\": \"8.8.8.0/24\"}",
	  "nestbox-network: subnet: 8.8.8.0/24 is not a private range "
	  "(10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)" },
	{ "{\"subnet\": \"169.254.0.0/16\"}",
	  "nestbox-network: subnet: 169.254.0.0/16 is not a private range "
	  "(10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)" },
	{ "{\"subnet\": \"172.32.0.0/16\"}",
	  "nestbox-network: subnet: 172.32.0.0/16 is not a private range "
	  "(10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)" },
	{ "{\"subnet\": \"192.168.1.255/24\"}",
	  "nestbox-network: subnet: 192.168.1.255/24 is the broadcast address, "
	  "not one for the bridge" },
	{ "{\"subnet\": \"192.168.1.0\"}",
	  "nestbox-network: subnet: \"192.168.1.0\" is not an IPv4 subnet (a.b.c.d/n)" },
	{ "{\"subnet\": \"192.168.01.0/24\"}",
	  "nestbox-network: subnet: \"192.168.01.0/24\" is not an IPv4 subnet (a.b.c.d/n)" },
	{ "{\"subnet\": \"192.168.1.0/024\"}",
	  "nestbox-network: subnet: \"192.168.1.0/024\" is not an IPv4 subnet (a.b.c.d/n)" },
	{ "{\"subnet\": \"192.168.1.0/33\"}",
	  "nestbox-network: subnet: \"192.168.1.0/33\" is not an IPv4 subnet (a.b.c.d/n)" },
	{ "{\"subnet\": \"192.168.1.0/24\\n\"}",
	  "nestbox-network: subnet: \"192.168.1.0/24?\" is not an IPv4 subnet (a.b.c.d/n)" },
	{ "{\"subnet\": \"256.1.1.0/24\"}",
	  "nestbox-network: subnet: \"256.1.1.0/24\" is not an IPv4 subnet (a.b.c.d/n)" },
	{ "{\"subnet\": 24}", "nestbox-network: subnet: not a string" },
	{ "{\"dhcp_range\": \"192.168.122.1-192.168.122.50\"}",
	  "nestbox-network: dhcp_range: 192.168.122.1-192.168.122.50 includes the "
	  "bridge's address 192.168.122.1" },
	{ "{\"dhcp_range\": \"192.168.122.50-192.168.123.10\"}",
	  "nestbox-network: dhcp_range: 192.168.123.10 is outside the subnet 192.168.122.0/24" },
	{ "{\"subnet\": \"10.1.0.0/24\", \"dhcp_range\": \"192.168.122.2-192.168.122.9\"}",
	  "nestbox-network: dhcp_range: 192.168.122.2 is outside the subnet 10.1.0.0/24" },
	{ "{\"dhcp_range\": \"192.168.122.50-192.168.122.10\"}",
	  "nestbox-network: dhcp_range: 192.168.122.50-192.168.122.10 ends before it starts" },
	{ "{\"dhcp_range\": \"192.168.122.0-192.168.122.10\"}",
	  "nestbox-network: dhcp_range: 192.168.122.0 is the subnet's network address" },
	{ "{\"dhcp_range\": \"192.168.122.10-192.168.122.255\"}",
	  "nestbox-network: dhcp_range: 192.168.122.255 is the subnet's broadcast address" },
	{ "{\"dhcp_range\": \"192.168.122.10\"}",
	  "nestbox-network: dhcp_range: \"192.168.122.10\" is not a range (first-last)" },
	{ "{\"dhcp_range\": [\"192.168.122.10\"]}",
	  "nestbox-network: dhcp_range: not a string" },
	{ "{\"mtu\": 9001}", "nestbox-network: mtu: 9001 is out of range (576..9000)" },
	{ "{\"mtu\": 575}", "nestbox-network: mtu: 575 is out of range (576..9000)" },
	{ "{\"mtu\": 1400.5}", "nestbox-network: mtu: 1400.5 is out of range (576..9000)" },
	{ "{\"mtu\": \"1400\"}", "nestbox-network: mtu: not a number" },
	{ "{\"mtu\": 1422222222222222222222}",	/* found by the fuzzer */
	  "nestbox-network: mtu: 1.42222222222222e+21 is out of range (576..9000)" },
	{ "{\"lease_time\": 60}",
	  "nestbox-network: lease_time: 60 is out of range (120..31536000)" },
	{ "{\"lease_time\": 1e300}",
	  "nestbox-network: lease_time: 1e+300 is out of range (120..31536000)" },
	{ "{\"sbunet\": \"10.0.0.0/24\"}",
	  "nestbox-network: sbunet: unknown field (subnet, dhcp_range, mtu, lease_time)" },
	{ "{\"mtu\": 1400, \"mtu\": 1300}", "nestbox-network: mtu: given twice" },
	{ "[1]", "nestbox-network: not a JSON object" },
	{ "\"subnet\"", "nestbox-network: not a JSON object" },
	{ "{\"mtu\": 1400", "nestbox-network: not valid JSON (at byte 11)" },
	{ "{\"mtu\": 1400} x",
	  "nestbox-network: not valid JSON (more after the document at byte 14)" },
	{ "{\"mtu\": 1400}{}",
	  "nestbox-network: not valid JSON (more after the document at byte 13)" },
	/* what cJSON lets pass and RFC 8259 does not */
	{ "{\"mtu\":\x01 1400}", "nestbox-network: not valid JSON (a control character at byte 7)" },
	{ "{\"mtu\x02\": 1400}",
	  "nestbox-network: not valid JSON (a control character in a string at byte 5)" },
	{ "{\"mtu\": [[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]}",
	  "nestbox-network: not valid JSON (nested deeper than 16 at byte 23)" },
};

static void
netconf_errors(void **state)
{
	struct netconf	 nc, before;
	char		 err[256];
	size_t		 i;

	(void)state;
	for (i = 0; i < NTESTS(bad); i++) {
		memset(&nc, 0xa5, sizeof(nc));
		before = nc;
		errno = 0;
		if (parse(bad[i].json, &nc, err, sizeof(err)) != -1)
			fail_msg("accepted: %s", bad[i].json);
		assert_int_equal(errno, EINVAL);
		assert_string_equal(err, bad[i].err);
		assert_memory_equal(&nc, &before, sizeof(nc));	/* unchanged */
	}
	/* a short buffer: the message is cut, never overrun */
	assert_int_equal(parse("{\"mtu\": 1}", &nc, err, 20), -1);
	assert_string_equal(err, "nestbox-network: mt");
	assert_int_equal(parse("{\"mtu\": 1}", &nc, NULL, 0), -1);
	/* a NUL inside the value: after it, in white space, in a string */
	assert_int_equal(netconf_parse("{}\0", 3, &nc, err, sizeof(err)), -1);
	assert_string_equal(err, "nestbox-network: not valid JSON (a control character at byte 2)");
	assert_int_equal(netconf_parse("{\0\"mtu\": 1400}", 14, &nc, err, sizeof(err)), -1);
	assert_string_equal(err, "nestbox-network: not valid JSON (a control character at byte 1)");
	assert_int_equal(netconf_parse("{\"mtu\0\": 1400}", 14, &nc, err, sizeof(err)), -1);
	assert_string_equal(err, "nestbox-network: not valid JSON (a control character in a string at byte 5)");
	/* fifteen levels are fine (the value is still wrong) */
	assert_int_equal(parse("{\"mtu\": [[[[[[[[[[[[[[1]]]]]]]]]]]]]]}", &nc, err, sizeof(err)), -1);
	assert_string_equal(err, "nestbox-network: mtu: not a number");
}

static void
netconf_eth0(void **state)
{
	struct netconf	 nc;
	char		 err[256];
	uint32_t	 eth0;

	(void)state;
	netconf_default(&nc);
	assert_int_equal(ip4_parse("10.128.0.5", 10, &eth0), 0);
	assert_int_equal(netconf_check(&nc, eth0, err, sizeof(err)), 0);
	assert_int_equal(netconf_check(&nc, 0, err, sizeof(err)), 0);
	assert_int_equal(parse("{\"subnet\": \"10.128.0.0/20\"}", &nc, err, sizeof(err)), 0);
	assert_int_equal(netconf_check(&nc, eth0, err, sizeof(err)), -1);
	assert_string_equal(err, "nestbox-network: subnet: 10.128.0.0/20 contains "
	    "eth0's address 10.128.0.5");
}

static void
netconf_ip4(void **state)
{
	static const char *const bad4[] = {
		"", "1.2.3", "1.2.3.4.", "1.2.3.4.5", "01.2.3.4", "1..3.4", "1.2.3.256",
		" 1.2.3.4", "1.2.3.4 ", "1.2.3.-4", "1.2.3.1000", "a.b.c.d",
	};
	char		 a[IP4_STRLEN];
	uint32_t	 v;
	size_t		 i;

	(void)state;
	assert_int_equal(ip4_parse("0.0.0.0", 7, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(ip4_parse("255.255.255.255", 15, &v), 0);
	assert_int_equal(v, 0xffffffff);
	assert_int_equal(ip4_parse("10.0.0.1/8", 8, &v), 0);	/* len bounds it */
	assert_string_equal(ip4_str(v, a), "10.0.0.1");
	for (i = 0; i < NTESTS(bad4); i++)
		if (ip4_parse(bad4[i], strlen(bad4[i]), &v) != -1)
			fail_msg("accepted \"%s\"", bad4[i]);
	assert_int_equal(ip4_mask(0), 0);
	assert_int_equal(ip4_mask(24), 0xffffff00);
	assert_int_equal(ip4_mask(32), 0xffffffff);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(netconf_defaults),
	cmocka_unit_test(netconf_overrides),
	cmocka_unit_test(netconf_errors),
	cmocka_unit_test(netconf_eth0),
	cmocka_unit_test(netconf_ip4),
};

const struct suite netconf_suite = { tests, NTESTS(tests) };

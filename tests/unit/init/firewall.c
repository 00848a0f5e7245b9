#include <errno.h>
#include <string.h>

#include "unit.h"
#include "net/net-internal.h"

/* a.b.c.d in host byte order, as struct netconf and struct forward have it */
#define IP(a, b, c, d)	((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))
#define ETH0		IP(10, 128, 0, 5)

static char	 buf[65536];

static void
firewall_default(void **state)
{
	struct netconf	 nc;
	int		 len;

	(void)state;
	netconf_default(&nc);
	assert_true((len = firewall_rules(&nc, NULL, 0, ETH0, buf, sizeof(buf))) > 0);
	assert_int_equal(len, strlen(buf));
	golden("firewall-default.rules", buf);
	/* eth0's address plays no part without forwards */
	assert_true(firewall_rules(&nc, NULL, 0, 0, buf + len + 1,
	    sizeof(buf) - len - 1) == len);
	assert_string_equal(buf, buf + len + 1);
}

static void
firewall_override(void **state)
{
	struct netconf	 nc;
	char		 err[256];
	const char	*json = "{\"subnet\": \"172.16.40.1/22\", \"mtu\": 1400}";

	(void)state;
	assert_int_equal(netconf_parse(json, strlen(json), &nc, err, sizeof(err)), 0);
	assert_true(firewall_rules(&nc, NULL, 0, ETH0, buf, sizeof(buf)) > 0);
	golden("firewall-override.rules", buf);
}

static const struct forward forwards[] = {
	{ FWD_TCP, 0, 2222, IP(192, 168, 122, 10), 22 },
	{ FWD_UDP, 0, 51820, IP(192, 168, 122, 10), 0 },
	{ FWD_TCP, IP(10, 128, 0, 5), 8080, IP(192, 168, 122, 11), 80 },
	{ FWD_TCP, IP(10, 128, 1, 7), 443, IP(192, 168, 122, 12), 8443 },
};

static void
firewall_forwards_rules(void **state)
{
	struct netconf	 nc;

	(void)state;
	netconf_default(&nc);
	assert_true(firewall_rules(&nc, forwards, NTESTS(forwards), ETH0,
	    buf, sizeof(buf)) > 0);
	golden("firewall-forwards.rules", buf);
}

static void
firewall_alias(void **state)
{
	static const struct forward alias[] = {
		{ FWD_TCP, IP(10, 128, 1, 7), 22, IP(192, 168, 122, 13), 2022 },	/* first */
		{ FWD_ALL, IP(10, 128, 1, 7), 0, IP(192, 168, 122, 12), 0 },
		{ FWD_ALL, IP(10, 128, 1, 8), 0, IP(192, 168, 122, 14), 0 },
		{ FWD_ALL, IP(10, 128, 1, 9), 0, IP(10, 99, 0, 2), 0 },		/* skipped */
	};
	struct netconf	 nc;

	(void)state;
	netconf_default(&nc);
	assert_true(firewall_rules(&nc, alias, NTESTS(alias), ETH0,
	    buf, sizeof(buf)) > 0);
	golden("firewall-alias.rules", buf);
}

static void
firewall_no_eth0(void **state)
{
	struct netconf	 nc;

	(void)state;
	netconf_default(&nc);
	/* eth0's address not known yet: the forwards match on eth0 */
	assert_true(firewall_rules(&nc, forwards, 2, 0, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "-A NESTBOX_DNAT -i eth0 -p tcp -m tcp --dport 2222 "
	    "-j DNAT --to-destination 192.168.122.10:22\n"));
	assert_non_null(strstr(buf, "-A NESTBOX_DNAT -i eth0 -p udp -m udp --dport 51820 "
	    "-j DNAT --to-destination 192.168.122.10:51820\n"));
}

static void
firewall_bad(void **state)
{
	/* addresses are numbers: no text of a forward reaches the ruleset */
	static const struct forward bad[] = {
		{ FWD_TCP, 0, 0, IP(192, 168, 122, 10), 22 },		/* no port */
		{ FWD_TCP, 0, 22, 0, 22 },				/* no guest */
		{ FWD_ALL, 0, 0, IP(192, 168, 122, 10), 0 },		/* all of eth0 */
		{ FWD_ALL, IP(10, 128, 0, 5), 0, IP(192, 168, 122, 10), 0 },	/* the same */
		{ 7, 0, 22, IP(192, 168, 122, 10), 22 },
	};
	struct netconf	 nc;
	size_t		 i;

	(void)state;
	netconf_default(&nc);
	for (i = 0; i < NTESTS(bad); i++) {
		errno = 0;
		if (firewall_rules(&nc, &bad[i], 1, ETH0, buf, sizeof(buf)) != -1)
			fail_msg("accepted forward %zu", i);
		assert_int_equal(errno, EINVAL);
	}
	errno = 0;
	assert_int_equal(firewall_rules(&nc, NULL, 0, 0, buf, 100), -1);
	assert_int_equal(errno, ENOSPC);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(firewall_default),
	cmocka_unit_test(firewall_override),
	cmocka_unit_test(firewall_forwards_rules),
	cmocka_unit_test(firewall_alias),
	cmocka_unit_test(firewall_no_eth0),
	cmocka_unit_test(firewall_bad),
};

const struct suite firewall_suite = { tests, NTESTS(tests) };

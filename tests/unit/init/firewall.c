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
	assert_true((len = firewall_rules(&nc, NULL, 0, NULL, 0, ETH0, buf, sizeof(buf))) > 0);
	assert_int_equal(len, strlen(buf));
	golden("firewall-default.rules", buf);
	/* eth0's address plays no part without forwards */
	assert_true(firewall_rules(&nc, NULL, 0, NULL, 0, 0, buf + len + 1,
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
	assert_true(firewall_rules(&nc, NULL, 0, NULL, 0, ETH0, buf, sizeof(buf)) > 0);
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
	assert_true(firewall_rules(&nc, forwards, NTESTS(forwards), NULL, 0, ETH0,
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
	assert_true(firewall_rules(&nc, alias, NTESTS(alias), NULL, 0, ETH0,
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
	assert_true(firewall_rules(&nc, forwards, 2, NULL, 0, 0, buf, sizeof(buf)) > 0);
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
		{ 7, 0, 22, IP(192, 168, 122, 10), 22 },
	};
	static const struct fw_port badport[] = {
		{ -1, { 0x52, 0x54, 0, 0, 0, 1 }, 0 },
		{ 1000, { 0x52, 0x54, 0, 0, 0, 1 }, 0 },
		{ 1, { 0x01, 0x00, 0x5e, 0, 0, 1 }, 0 },		/* multicast */
	};
	struct netconf	 nc;
	size_t		 i;

	(void)state;
	netconf_default(&nc);
	for (i = 0; i < NTESTS(bad); i++) {
		errno = 0;
		if (firewall_rules(&nc, &bad[i], 1, NULL, 0, ETH0, buf, sizeof(buf)) != -1)
			fail_msg("accepted forward %zu", i);
		assert_int_equal(errno, EINVAL);
	}
	for (i = 0; i < NTESTS(badport); i++) {
		errno = 0;
		if (firewall_rules(&nc, NULL, 0, &badport[i], 1, ETH0, buf, sizeof(buf)) != -1)
			fail_msg("accepted port %zu", i);
		assert_int_equal(errno, EINVAL);
	}
	errno = 0;
	assert_int_equal(firewall_rules(&nc, NULL, 0, NULL, 0, 0, buf, 100), -1);
	assert_int_equal(errno, ENOSPC);
}

/* The guests' ports: each sends from its own MAC and address; DHCP from 0.0.0.0. */
static const struct fw_port ports[] = {
	{ 0, { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 }, IP(192, 168, 122, 10) },
	{ 3, { 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef }, 0 },		/* no lease yet */
	{ 63, { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 }, IP(10, 99, 0, 2) },	/* outside */
};

static void
firewall_ports_rules(void **state)
{
	struct netconf	 nc;

	(void)state;
	netconf_default(&nc);
	assert_true(firewall_rules(&nc, forwards, 2, ports, NTESTS(ports), ETH0,
	    buf, sizeof(buf)) > 0);
	golden("firewall-ports.rules", buf);
	/* a known address: that address from that tap and MAC, nothing else */
	assert_non_null(strstr(buf, "-A NESTBOX_SPF -s 192.168.122.10/32 -m physdev "
	    "--physdev-in nbtap0 -m mac --mac-source 52:54:00:12:34:56 -j RETURN\n"));
	assert_null(strstr(buf, "--physdev-in nbtap3 -m mac --mac-source 52:54:00:ab:cd:ef -j RETURN"));
	assert_non_null(strstr(buf, "-s 0.0.0.0/32 -d 255.255.255.255/32 -p udp -m physdev "
	    "--physdev-in nbtap3 -m mac --mac-source 52:54:00:ab:cd:ef -m udp --sport 68 "
	    "--dport 67 -j RETURN\n"));
	assert_null(strstr(buf, "10.99.0.2"));
	/* whatever no rule lets through is dropped, the taps of unknown guests too */
	assert_non_null(strstr(buf, "-A PREROUTING -m physdev --physdev-in nbtap+ -j NESTBOX_SPF\n"));
	assert_non_null(strstr(buf, "-A NESTBOX_SPF -j DROP\nCOMMIT\n"));
}

/* The rules every ruleset has, whatever the guests. */
static void
firewall_fixed(void **state)
{
	struct netconf	 nc;

	(void)state;
	netconf_default(&nc);
	assert_true(firewall_rules(&nc, NULL, 0, NULL, 0, ETH0, buf, sizeof(buf)) > 0);
	/* PID 1's own metadata requests never meet a DNAT */
	assert_non_null(strstr(buf, "-A OUTPUT ! -d 169.254.0.0/16 -j NESTBOX_DNAT\n"));
	assert_null(strstr(buf, "-A OUTPUT -j NESTBOX_DNAT\n"));
	/* replies are accepted on the interface the connection left by, only */
	assert_null(strstr(buf, "-A NESTBOX_INP -m conntrack"));
	assert_non_null(strstr(buf, "-A NESTBOX_INP -i eth0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"));
	assert_non_null(strstr(buf, "-A NESTBOX_INP -i virbr0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"));
	/* nestbox-fetch-http: nothing in 169.254.0.0/16; dnsmasq: DNS there only */
	assert_non_null(strstr(buf, "-A NESTBOX_OUT -d 169.254.0.0/16 -m owner --uid-owner 901 -j REJECT"));
	assert_non_null(strstr(buf, "-A NESTBOX_OUT -d 169.254.169.254/32 -p udp -m owner "
	    "--uid-owner 65534 -m udp --dport 53 -j ACCEPT\n"
	    "-A NESTBOX_OUT -d 169.254.169.254/32 -p tcp -m owner --uid-owner 65534 -m tcp "
	    "--dport 53 -j ACCEPT\n"
	    "-A NESTBOX_OUT -d 169.254.0.0/16 -m owner --uid-owner 65534 -j REJECT"));
}

/* Addresses a forward may not take: skipped with the reason, the others kept. */
static void
firewall_claims(void **state)
{
	static const struct forward claims[] = {
		{ FWD_ALL, IP(169, 254, 169, 254), 0, IP(192, 168, 122, 10), 0 },
		{ FWD_TCP, IP(169, 254, 169, 254), 80, IP(192, 168, 122, 10), 80 },
		{ FWD_TCP, IP(127, 0, 0, 1), 22, IP(192, 168, 122, 10), 22 },
		{ FWD_ALL, IP(192, 168, 122, 20), 0, IP(192, 168, 122, 10), 0 },
		{ FWD_ALL, ETH0, 0, IP(192, 168, 122, 10), 0 },
		{ FWD_TCP, 0, 2222, IP(192, 168, 122, 11), 22 },		/* fine */
	};
	struct netconf	 nc;

	(void)state;
	netconf_default(&nc);
	assert_true(firewall_rules(&nc, claims, NTESTS(claims), NULL, 0, ETH0,
	    buf, sizeof(buf)) > 0);
	golden("firewall-claims.rules", buf);
	assert_non_null(strstr(buf, "# skipped: all 169.254.169.254 -> 192.168.122.10: "
	    "the address is in 169.254.0.0/16\n"));
	assert_non_null(strstr(buf, "# skipped: tcp 127.0.0.1:22 -> 192.168.122.10: "
	    "the address is in 127.0.0.0/8\n"));
	assert_non_null(strstr(buf, "# skipped: all 192.168.122.20 -> 192.168.122.10: "
	    "the address is in the L2 subnet\n"));
	assert_non_null(strstr(buf, "# skipped: all 10.128.0.5 -> 192.168.122.10: "
	    "a whole alias IP can not be the L1's own address\n"));
	assert_null(strstr(buf, "--to-destination 192.168.122.10"));
	assert_non_null(strstr(buf, "-A NESTBOX_DNAT -d 10.128.0.5/32 -p tcp -m tcp --dport 2222 "
	    "-j DNAT --to-destination 192.168.122.11:22\n"));
}

static void
firewall6(void **state)
{
	int	 len;

	(void)state;
	assert_true((len = firewall6_rules(buf, sizeof(buf))) > 0);
	assert_int_equal(len, strlen(buf));
	golden("firewall6.rules", buf);
	assert_int_equal(firewall6_rules(buf, 64), -1);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(firewall_default),
	cmocka_unit_test(firewall_override),
	cmocka_unit_test(firewall_forwards_rules),
	cmocka_unit_test(firewall_alias),
	cmocka_unit_test(firewall_no_eth0),
	cmocka_unit_test(firewall_bad),
	cmocka_unit_test(firewall_ports_rules),
	cmocka_unit_test(firewall_fixed),
	cmocka_unit_test(firewall_claims),
	cmocka_unit_test(firewall6),
};

const struct suite firewall_suite = { tests, NTESTS(tests) };

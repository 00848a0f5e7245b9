/*
 * A declaration's verdict: guests_parse(), then the checks that need what
 * the L1 has, the L2 network (docs/guests.md, guests_check_net) and the
 * alias IP ranges GCE routes to it. PID 1 (vm.c) and `nestbox check`
 * (tools/check.c) both come here, so what the one accepts the other does:
 * tests/unit/init/vm.c runs both over the same table.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest/guest-internal.h"

/* Is a inside the range net/prefix? */
static int
in_range(uint32_t a, uint32_t net, int prefix)
{
	uint32_t	 mask = prefix == 0 ? 0 : 0xffffffffU << (32 - prefix);

	return (a & mask) == net;
}

static int
alias_ok(const struct guest_env *env, uint32_t a)
{
	size_t	 i;

	for (i = 0; i < env->naliases; i++)
		if (in_range(a, env->alias[i], env->alias_prefix[i]))
			return 1;
	return 0;
}

/* "10.128.16.0/28, 10.128.17.0/28", or "none" */
static const char *
ranges_str(const struct guest_env *env, char *buf, size_t size)
{
	struct text	 t;
	char		 a[IP4_STRLEN];
	size_t		 i;

	text_init(&t, buf, size);
	for (i = 0; i < env->naliases; i++)
		text_add(&t, "%s%s/%d", i ? ", " : "", ip4_str(env->alias[i], a),
		    env->alias_prefix[i]);
	if (env->naliases == 0)
		text_add(&t, "none");
	(void)text_done(&t);	/* cut short: still says which */
	return buf;
}

/*
 * Why an address a guest claims on the L1's side (alias-ip, a forward's
 * alias-ip) can not be its: NULL if it can. 169.254.0.0/16 would take the
 * metadata server (nat OUTPUT does not redirect it, firewall.c, but the
 * guest would still hold PID 1's address), 127.0.0.0/8 is the L1's
 * loopback, the L2 subnet its guests'. A whole alias IP can not be the L1's
 * own address (0: not known): it would take its DHCP and replies.
 */
static const char *
claim_bad(const struct guest_env *env, uint32_t a, int whole)
{
	if ((a >> 16) == 0xa9fe)
		return "is in 169.254.0.0/16 (the metadata server's)";
	if ((a >> 24) == 127)
		return "is in 127.0.0.0/8";
	if (env->have_net && netconf_contains(&env->net, a))
		return "is in the L2 subnet";
	if (whole && env->l1 != 0 && a == env->l1)
		return "is the L1's own address";
	return NULL;
}

/* The first thing wrong with g against env, into err; "" if nothing. */
static void
check_one(const struct guest *g, const struct guest_env *env, char *err, size_t size)
{
	const struct netconf	*nc = &env->net;
	char			 a[IP4_STRLEN], n[IP4_STRLEN], r[160];
	const char		*why;
	size_t			 i;

	err[0] = '\0';
	if (env->have_net && g->ip != 0 && !netconf_contains(nc, g->ip)) {
		snprintf(err, size, "ip: %s is outside the L2 subnet %s/%d",
		    ip4_str(g->ip, a), ip4_str(netconf_network(nc), n), nc->prefix);
		return;
	}
	if (env->have_net && g->ip != 0 && (g->ip == netconf_network(nc) ||
	    g->ip == netconf_broadcast(nc) || g->ip == nc->addr)) {
		snprintf(err, size, "ip: %s is the %s address", ip4_str(g->ip, a),
		    g->ip == nc->addr ? "bridge's" : g->ip == netconf_network(nc) ?
		    "subnet's network" : "subnet's broadcast");
		return;
	}
	if (g->alias_ip != 0 && (why = claim_bad(env, g->alias_ip, 1)) != NULL) {
		snprintf(err, size, "alias-ip: %s %s", ip4_str(g->alias_ip, a), why);
		return;
	}
	for (i = 0; i < g->nforwards; i++)
		if (g->forwards[i].alias_ip != 0 &&
		    (why = claim_bad(env, g->forwards[i].alias_ip, 0)) != NULL) {
			snprintf(err, size, "forwards[%zu].alias-ip: %s %s", i,
			    ip4_str(g->forwards[i].alias_ip, a), why);
			return;
		}
	if (!env->have_aliases)
		return;
	if (g->alias_ip != 0 && !alias_ok(env, g->alias_ip)) {
		snprintf(err, size, "alias-ip: %s is not in the L1's alias IP ranges (%s)",
		    ip4_str(g->alias_ip, a), ranges_str(env, r, sizeof(r)));
		return;
	}
	for (i = 0; i < g->nforwards; i++)
		if (g->forwards[i].alias_ip != 0 && !alias_ok(env, g->forwards[i].alias_ip)) {
			snprintf(err, size, "forwards[%zu].alias-ip: %s is not in the L1's "
			    "alias IP ranges (%s)", i, ip4_str(g->forwards[i].alias_ip, a),
			    ranges_str(env, r, sizeof(r)));
			return;
		}
}

/*
 * The checks that need what the L1 has: a static ip inside the L2 subnet,
 * not its network's, broadcast or bridge's address; alias IPs (whole or
 * forwarded) inside the L1's alias IP ranges. A guest that fails is
 * reported and removed from the set. Returns how many were removed.
 */
int
guests_check_net(struct guest_set *set, const struct guest_env *env,
    struct guest_errors *errs)
{
	char	 err[GUEST_ERR_MAX];
	size_t	 i, o;
	int	 dropped = 0;

	for (i = o = 0; i < set->n; i++) {
		struct guest *g = &set->v[i];

		check_one(g, env, err, sizeof(err));
		if (err[0] != '\0') {
			guest_errors_add(errs, "guest %s: %s", g->name, err);
			errs->invalid++;
			guest_clear(g);
			dropped++;
			continue;
		}
		if (o != i)
			set->v[o] = *g;
		o++;
	}
	set->n = o;
	return dropped;
}

/*
 * The text (len bytes, no NUL needed) as the guests that would run against
 * env; set and errs as guests_parse() leaves them, with the cross-checks'
 * errors after the document's.
 */
int
guests_verdict(const char *json, size_t len, const struct guest_env *env,
    struct guest_set *set, struct guest_errors *errs)
{
	if (guests_parse(json, len, set, errs) == -1)
		return -1;
	guests_check_net(set, env, errs);
	return 0;
}

/* The alias IP ranges, as metadata gives them (md/metadata.c) or a user types them. */
int
guest_env_aliases(struct guest_env *env, const char *const cidrs[], size_t n)
{
	uint32_t	 addr[GUEST_ALIASES_MAX];
	int		 prefix[GUEST_ALIASES_MAX];
	const char	*s, *slash;
	char		*end;
	long		 p;
	size_t		 i;

	if (n > GUEST_ALIASES_MAX) {
		errno = E2BIG;
		return -1;
	}
	for (i = 0; i < n; i++) {
		s = cidrs[i];
		slash = strchr(s, '/');
		if (ip4_parse(s, slash != NULL ? (size_t)(slash - s) : strlen(s), &addr[i]) == -1)
			goto bad;
		p = 32;
		if (slash != NULL) {
			if (slash[1] < '0' || slash[1] > '9')
				goto bad;
			errno = 0;
			p = strtol(slash + 1, &end, 10);
			if (errno != 0 || *end != '\0' || p < 0 || p > 32 || end - slash > 3)
				goto bad;
		}
		prefix[i] = (int)p;
		addr[i] &= p == 0 ? 0 : 0xffffffffU << (32 - p);
	}
	memcpy(env->alias, addr, n * sizeof(addr[0]));
	memcpy(env->alias_prefix, prefix, n * sizeof(prefix[0]));
	env->naliases = n;
	env->have_aliases = 1;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

int
guest_env_equal(const struct guest_env *a, const struct guest_env *b)
{
	if (a->have_net != b->have_net || a->have_aliases != b->have_aliases)
		return 0;
	if (a->have_net && memcmp(&a->net, &b->net, sizeof(a->net)) != 0)
		return 0;
	if (a->have_aliases && (a->naliases != b->naliases ||
	    memcmp(a->alias, b->alias, a->naliases * sizeof(a->alias[0])) != 0 ||
	    memcmp(a->alias_prefix, b->alias_prefix,
	    a->naliases * sizeof(a->alias_prefix[0])) != 0))
		return 0;
	return 1;
}

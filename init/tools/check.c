/*
 * `nestbox check FILE`: a nestbox-guests declaration judged as PID 1 judges
 * it, without PID 1: the same function (guest/verdict.c's guests_verdict),
 * against the default L2 network or a nestbox-network document, and the
 * alias IP ranges when they are given.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest/guest.h"
#include "tools/tools.h"

#define DOC		"nestbox-guests: "

static int
usage(void)
{
	fprintf(stderr, "usage: nestbox check [--network FILE] [--alias-ranges CIDR,...] FILE\n"
	    "checks a nestbox-guests declaration (docs/guests.md) as PID 1 would, against\n"
	    "the default L2 network or a nestbox-network document, and the L1's alias IP\n"
	    "ranges when given; - reads standard input\n");
	return 2;
}

/* --network FILE: parsed as l2net parses the value. 0, or 2 (said why). */
static int
network_load(const char *path, struct guest_env *env)
{
	char	*text, err[256];
	size_t	 len;

	if ((text = read_file(path, NETCONF_DOC_MAX, &len)) == NULL) {
		fprintf(stderr, "nestbox check: %s: %s\n", path, strerror(errno));
		return 2;
	}
	if (netconf_parse(text, len, &env->net, err, sizeof(err)) == -1) {
		fprintf(stderr, "nestbox check: %s: %s\n", path, err);
		free(text);
		return 2;
	}
	free(text);
	return 0;
}

/* --alias-ranges 10.128.16.0/28,10.128.17.0/28 ("": none). 0, or 2. */
static int
aliases_load(const char *arg, struct guest_env *env)
{
	char		 buf[GUEST_ALIASES_MAX * 20], *p, *next;
	const char	*v[GUEST_ALIASES_MAX];
	size_t		 n = 0;

	if (strlen(arg) >= sizeof(buf)) {
		fprintf(stderr, "nestbox check: --alias-ranges: more than %d ranges\n",
		    GUEST_ALIASES_MAX);
		return 2;
	}
	snprintf(buf, sizeof(buf), "%s", arg);
	for (p = buf; *p != '\0'; p = next) {
		if ((next = strchr(p, ',')) != NULL)
			*next++ = '\0';
		else
			next = p + strlen(p);
		if (n == GUEST_ALIASES_MAX) {
			fprintf(stderr, "nestbox check: --alias-ranges: more than %d ranges\n",
			    GUEST_ALIASES_MAX);
			return 2;
		}
		v[n++] = p;
	}
	if (guest_env_aliases(env, v, n) == -1) {
		fprintf(stderr, "nestbox check: --alias-ranges: \"%s\" is not a list of "
		    "a.b.c.d/n\n", arg);
		return 2;
	}
	return 0;
}

/*
 * nestbox check [--network FILE] [--alias-ranges CIDR,...] FILE ("-":
 * standard input): every error on its own line, then a summary. Exit 0:
 * every guest is valid; 1: some are not, or the document is rejected; 2:
 * usage, or a file can not be read or is not a nestbox-network document.
 */
int
guests_check_main(int argc, char *argv[])
{
	struct guest_env	 env;
	struct guest_set	 set;
	struct guest_errors	 errs;
	const char		*path, *name;
	char			*text;
	size_t			 len, i;
	int			 rv, a;

	memset(&env, 0, sizeof(env));
	netconf_default(&env.net);
	env.have_net = 1;
	for (a = 1; a < argc - 1; a += 2) {
		if (strcmp(argv[a], "--network") == 0)
			rv = network_load(argv[a + 1], &env);
		else if (strcmp(argv[a], "--alias-ranges") == 0)
			rv = aliases_load(argv[a + 1], &env);
		else
			return usage();
		if (rv != 0)
			return rv;
	}
	if (a != argc - 1 || (argv[a][0] == '-' && argv[a][1] != '\0'))
		return usage();
	name = argv[a];
	path = strcmp(name, "-") == 0 ? "/dev/stdin" : name;
	/* one byte more than allowed, so the parser says it is too large */
	if ((text = read_file(path, GUESTS_DOC_MAX + 1, &len)) == NULL) {
		if (errno != EFBIG) {
			fprintf(stderr, "nestbox check: %s: %s\n", name, strerror(errno));
			return 2;
		}
		printf("%s: " DOC "larger than %d bytes\n%s: rejected, no guest would run\n",
		    name, GUESTS_DOC_MAX, name);
		return 1;
	}
	rv = guests_verdict(text, len, &env, &set, &errs);
	free(text);
	if (rv == -1 && errno == ENOMEM) {
		fprintf(stderr, "nestbox check: out of memory\n");
		return 2;
	}
	for (i = 0; i < errs.n; i++)
		printf("%s: %s\n", name, errs.v[i]);
	if (errs.document)
		printf("%s: rejected, no guest would run\n", name);
	else
		printf("%s: %zu guest%s valid, %zu invalid\n", name, set.n,
		    set.n == 1 ? "" : "s", errs.invalid);
	rv = errs.document || errs.invalid > 0;
	guests_free(&set);
	guest_errors_free(&errs);
	return rv;
}

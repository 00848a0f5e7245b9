/*
 * Kernel modules: the list in /etc/nestbox/modules, resolved against depmod's
 * modules.dep and modules.builtin and loaded with finit_module(2), each after
 * its dependencies. The parsers are pure and take the text of the files, so
 * the unit tests feed them broken input; the files are ours, but a parser
 * that can overflow or loop on a bad one is a boot that hangs.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

#include "sys/sys-internal.h"

#ifndef MODULE_INIT_COMPRESSED_FILE
#define MODULE_INIT_COMPRESSED_FILE 4
#endif

#define MODLIST_SIZE	(64 * 1024)
#define MODLIST_MAX	1024
#define MODDEP_SIZE	(16 * 1024 * 1024)
#define BUILTIN_SIZE	(4 * 1024 * 1024)
#define BAD_LINES_LOGGED 3

/*
 * Copies a module name to out, with '-' as '_' (kmod treats them as the same
 * character). EINVAL for an empty name or one with other characters than
 * letters, digits, '-' and '_'; ENAMETOOLONG past the kernel's limit.
 */
int
modname(const char *s, size_t len, char out[MODNAME_MAX])
{
	size_t	 i;
	char	 c;

	if (len == 0) {
		errno = EINVAL;
		return -1;
	}
	if (len >= MODNAME_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (i = 0; i < len; i++) {
		c = s[i];
		if (c == '-')
			c = '_';
		else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_')) {
			errno = EINVAL;
			return -1;
		}
		out[i] = c;
	}
	out[len] = '\0';
	return 0;
}

/* The module name of "kernel/net/foo-bar.ko[.xz|.zst|.gz]" is "foo_bar". */
int
modname_path(const char *path, char out[MODNAME_MAX])
{
	const char	*base, *ko;

	base = (base = strrchr(path, '/')) ? base + 1 : path;
	if ((ko = strstr(base, ".ko")) == NULL ||
	    (ko[3] != '\0' && strcmp(ko + 3, ".xz") != 0 &&
	    strcmp(ko + 3, ".zst") != 0 && strcmp(ko + 3, ".gz") != 0)) {
		errno = EINVAL;
		return -1;
	}
	return modname(base, ko - base, out);
}

static void
bad_line(const char *file, unsigned line, size_t *bad, const char *why)
{
	if (++*bad <= BAD_LINES_LOGGED)
		log_warnx("modules: %s line %u: %s, skipped", file, line, why);
}

/*
 * Parses the module list: one name a line, '#' starts a comment, the rest of
 * the line after the name is passed to the module as its parameters. A name
 * listed twice is loaded once. The params point into text.
 */
int
modlist_parse(char *text, size_t len, struct modlist *ml)
{
	char		*cur = text, *end = text + len, *line, *p, *e;
	struct modreq	*r;
	char		 name[MODNAME_MAX];
	unsigned	 lineno = 0;
	size_t		 i;

	memset(ml, 0, sizeof(*ml));
	if ((ml->v = calloc(MODLIST_MAX, sizeof(*ml->v))) == NULL)
		return -1;
	while ((line = next_line(&cur, end)) != NULL) {
		lineno++;
		if ((p = strchr(line, '#')) != NULL)
			*p = '\0';
		while (is_space(*line))
			line++;
		for (e = line; *e != '\0' && !is_space(*e); e++)
			;
		if (e == line)
			continue;
		if (modname(line, e - line, name) == -1) {
			bad_line("list", lineno, &ml->bad, "bad module name");
			continue;
		}
		for (i = 0; i < ml->n; i++)
			if (strcmp(ml->v[i].name, name) == 0)
				break;
		if (i < ml->n)
			continue;
		if (ml->n == MODLIST_MAX) {
			bad_line("list", lineno, &ml->bad, "too many modules");
			continue;
		}
		p = e;
		while (is_space(*p))
			p++;
		for (e = p + strlen(p); e > p && is_space(e[-1]); e--)
			;
		*e = '\0';
		r = &ml->v[ml->n++];
		memcpy(r->name, name, sizeof(name));
		r->params = p;
		r->line = lineno;
	}
	return 0;
}

void
modlist_free(struct modlist *ml)
{
	free(ml->v);
	memset(ml, 0, sizeof(*ml));
}

static int
entry_cmp(const void *a, const void *b)
{
	const struct modentry	*x = a, *y = b;
	int			 c;

	if ((c = strcmp(x->name, y->name)) != 0)
		return c;
	/* the same name twice: the first line wins, paths point into text */
	return (x->path > y->path) - (x->path < y->path);
}

/* One modules.dep line: "path: dep dep ...". -1 if it is malformed. */
static int
moddep_line(char *line, struct modentry *e, const char **depv, const char **why)
{
	char	*colon, *p, *tok, dname[MODNAME_MAX];

	if ((colon = strchr(line, ':')) == NULL) {
		*why = "no ':'";
		return -1;
	}
	*colon = '\0';
	for (p = colon; p > line && is_space(p[-1]); p--)
		p[-1] = '\0';
	if (line[0] == '\0' || strpbrk(line, " \t") != NULL ||
	    strlen(line) >= PATH_MAX || modname_path(line, e->name) == -1) {
		*why = "bad module path";
		return -1;
	}
	e->path = line;
	e->deps = depv;
	e->ndeps = 0;
	for (p = colon + 1; ; ) {
		while (is_space(*p))
			p++;
		if (*p == '\0')
			break;
		for (tok = p; *p != '\0' && !is_space(*p); p++)
			;
		if (*p != '\0')
			*p++ = '\0';
		if (strlen(tok) >= PATH_MAX || modname_path(tok, dname) == -1) {
			*why = "bad dependency path";
			return -1;
		}
		if (e->ndeps == MODDEP_MAX_DEPS) {
			*why = "too many dependencies";
			return -1;
		}
		depv[e->ndeps++] = tok;
	}
	return 0;
}

/*
 * Parses modules.dep into entries sorted by module name. Malformed lines and
 * repeated names are skipped and counted in bad. text is modified and must
 * outlive md.
 */
int
moddep_parse(char *text, size_t len, struct moddep *md)
{
	struct modentry	*e;
	char		*cur = text, *end = text + len, *line;
	const char	*why;
	size_t		 lines = 1, tokens = 0, used = 0, i, k;
	unsigned	 lineno = 0;
	int		 intok = 0;

	memset(md, 0, sizeof(*md));
	for (i = 0; i < len; i++) {	/* sizes for the two arrays */
		if (text[i] == '\n')
			lines++;
		if (is_space(text[i]))
			intok = 0;
		else if (!intok) {
			intok = 1;
			tokens++;
		}
	}
	if ((md->v = calloc(lines, sizeof(*md->v))) == NULL ||
	    (md->depv = calloc(tokens + 1, sizeof(*md->depv))) == NULL) {
		moddep_free(md);
		return -1;
	}
	while ((line = next_line(&cur, end)) != NULL) {
		lineno++;
		while (is_space(*line))
			line++;
		if (*line == '\0')
			continue;
		e = &md->v[md->n];
		if (moddep_line(line, e, md->depv + used, &why) == -1) {
			bad_line("modules.dep", lineno, &md->bad, why);
			continue;
		}
		used += e->ndeps;
		md->n++;
	}
	qsort(md->v, md->n, sizeof(*md->v), entry_cmp);
	for (i = k = 0; i < md->n; i++) {
		if (k > 0 && strcmp(md->v[k - 1].name, md->v[i].name) == 0) {
			if (++md->bad <= BAD_LINES_LOGGED)
				log_warnx("modules: modules.dep: %s listed twice,"
				    " the first line wins", md->v[i].name);
			continue;
		}
		md->v[k++] = md->v[i];
	}
	md->n = k;
	return 0;
}

static int
name_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct modentry *)elem)->name);
}

struct modentry *
moddep_find(const struct moddep *md, const char *name)
{
	if (md->n == 0)
		return NULL;
	return bsearch(name, md->v, md->n, sizeof(*md->v), name_cmp);
}

struct plan {
	struct moddep	 *md;
	struct modentry	**order;
	size_t		  max, n;
	const char	 *culprit;
};

/*
 * Depth first, dependencies before the module. depmod lists a module's whole
 * dependency closure with the one to load first last, so walking the list
 * backwards gives kmod's order; recursing into each dependency as well keeps
 * the order right even when a line is not sorted that way.
 */
static int
plan_visit(struct plan *pl, struct modentry *e, unsigned depth)
{
	struct modentry	*d;
	char		 name[MODNAME_MAX];
	size_t		 i;

	if (e->mark) {
		if (!e->visiting)
			return 0;	/* already in the order */
		pl->culprit = e->name;
		errno = ELOOP;		/* a dependency cycle */
		return -1;
	}
	if (depth > MODDEP_MAX_DEPTH) {
		pl->culprit = e->name;
		errno = ELOOP;
		return -1;
	}
	e->mark = e->visiting = 1;
	for (i = e->ndeps; i-- > 0; ) {
		if (modname_path(e->deps[i], name) == -1 ||
		    (d = moddep_find(pl->md, name)) == NULL) {
			pl->culprit = e->deps[i];
			errno = ENOENT;
			return -1;
		}
		if (plan_visit(pl, d, depth + 1) == -1)
			return -1;
	}
	e->visiting = 0;
	if (pl->n == pl->max) {
		pl->culprit = e->name;
		errno = E2BIG;
		return -1;
	}
	pl->order[pl->n++] = e;
	return 0;
}

/*
 * Fills order with e's dependency closure, each module after the ones it
 * needs, e last. On failure culprit names the module or path at fault:
 * ELOOP for a cycle (or a chain deeper than any real one), ENOENT for a
 * dependency without a modules.dep line, E2BIG when max is too small.
 */
int
moddep_plan(struct moddep *md, struct modentry *e, struct modentry **order,
    size_t max, size_t *n, const char **culprit)
{
	struct plan	 pl = { md, order, max, 0, NULL };
	size_t		 i;
	int		 rv;

	for (i = 0; i < md->n; i++)
		md->v[i].mark = md->v[i].visiting = 0;
	rv = plan_visit(&pl, e, 0);
	*n = pl.n;
	*culprit = pl.culprit;
	return rv;
}

void
moddep_free(struct moddep *md)
{
	free(md->v);
	free(md->depv);
	memset(md, 0, sizeof(*md));
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Parses modules.builtin: one module path a line. */
int
names_parse(char *text, size_t len, struct names *ns)
{
	char	*cur = text, *end = text + len, *line;
	size_t	 lines = 1, i, k;

	memset(ns, 0, sizeof(*ns));
	for (i = 0; i < len; i++)
		if (text[i] == '\n')
			lines++;
	if ((ns->v = calloc(lines, sizeof(*ns->v))) == NULL)
		return -1;
	while ((line = next_line(&cur, end)) != NULL)
		if (modname_path(line, ns->v[ns->n]) == 0)
			ns->n++;
	qsort(ns->v, ns->n, sizeof(*ns->v), str_cmp);
	for (i = k = 0; i < ns->n; i++)
		if (k == 0 || strcmp(ns->v[k - 1], ns->v[i]) != 0)
			memmove(ns->v[k++], ns->v[i], MODNAME_MAX);
	ns->n = k;
	return 0;
}

int
names_has(const struct names *ns, const char *name)
{
	return ns->n > 0 &&
	    bsearch(name, ns->v, ns->n, sizeof(*ns->v), str_cmp) != NULL;
}

void
names_free(struct names *ns)
{
	free(ns->v);
	memset(ns, 0, sizeof(*ns));
}

/* kvm_intel and kvm_amd: NULL if this CPU runs it, else why not. */
static const char *
kvm_skip(const struct cpu *cpu, const char *name, char *buf, size_t size)
{
	enum cpu_vendor	 vendor;
	const char	*want, *flag;

	if (strcmp(name, "kvm_intel") == 0) {
		vendor = CPU_INTEL;
		want = "GenuineIntel";
		flag = "vmx";
	} else if (strcmp(name, "kvm_amd") == 0) {
		vendor = CPU_AMD;
		want = "AuthenticAMD";
		flag = "svm";
	} else
		return NULL;
	if (cpu == NULL)
		return "the CPU vendor is unknown";
	if (cpu_kvm_module(cpu) != NULL && strcmp(cpu_kvm_module(cpu), name) == 0)
		return NULL;
	if (cpu->vendor != vendor)
		snprintf(buf, size, "the CPU is %s, not %s", cpu->vendor_id, want);
	else
		snprintf(buf, size, "the CPU has no %s flag", flag);
	return buf;
}

/* Loads e after its dependencies. On failure, says why in buf. */
static int
load_one(const struct modconf *conf, struct moddep *md, struct modentry *e,
    const char *params, struct modentry **order, char *why, size_t size)
{
	struct modentry	*o;
	const char	*culprit;
	char		 path[PATH_MAX];
	size_t		 n, i;

	if (moddep_plan(md, e, order, md->n, &n, &culprit) == -1) {
		snprintf(why, size, "%s: %s", culprit, errno == ENOENT ?
		    "not in modules.dep" : errno == ELOOP ?
		    "dependency cycle" : strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		o = order[i];
		if (o->state == MOD_LOADED)
			continue;
		if (o->state == MOD_NEW) {
			if ((o->path[0] == '/' ? snprintf(path, sizeof(path),
			    "%s", o->path) : snprintf(path, sizeof(path), "%s/%s",
			    conf->dir, o->path)) >= (int)sizeof(path)) {
				errno = ENAMETOOLONG;
			} else if (conf->load(path, o == e ? params : "") == 0 ||
			    errno == EEXIST) {
				o->state = MOD_LOADED;
				continue;
			}
			o->state = MOD_FAILED;
			o->error = errno;
		}
		if (o == e)
			snprintf(why, size, "%s", strerror(o->error));
		else
			snprintf(why, size, "dependency %s: %s", o->name,
			    strerror(o->error));
		return -1;
	}
	return 0;
}

/*
 * Loads the modules of conf->list, logs each failure and a summary, and
 * counts the outcome of each listed module in st (dependencies are not
 * counted). -1 only when the list itself can not be read.
 */
int
modules_load(const struct modconf *conf, struct modstats *st)
{
	struct modlist	  ml = { 0 };
	struct moddep	  md = { 0 };
	struct names	  builtin = { 0 };
	struct modentry	**order = NULL, *e;
	struct modreq	 *r;
	char		 *list = NULL, *dep = NULL, *bi = NULL, path[PATH_MAX];
	char		  why[PATH_MAX + 128];
	const char	 *skip;
	size_t		  len, i;
	int		  rv = -1;

	memset(st, 0, sizeof(*st));
	if ((list = read_file(conf->list, MODLIST_SIZE, &len)) == NULL) {
		log_warn("modules: %s", conf->list);
		goto err;
	}
	if (modlist_parse(list, len, &ml) == -1)
		goto err;
	st->failed += ml.bad;

	snprintf(path, sizeof(path), "%s/modules.dep", conf->dir);
	if ((dep = read_file(path, MODDEP_SIZE, &len)) == NULL)
		log_warn("modules: %s", path);
	else if (moddep_parse(dep, len, &md) == -1)
		goto err;
	snprintf(path, sizeof(path), "%s/modules.builtin", conf->dir);
	if ((bi = read_file(path, BUILTIN_SIZE, &len)) == NULL)
		log_warn("modules: %s", path);
	else if (names_parse(bi, len, &builtin) == -1)
		goto err;
	if ((order = calloc(md.n + 1, sizeof(*order))) == NULL)
		goto err;

	for (i = 0; i < ml.n; i++) {
		r = &ml.v[i];
		if ((skip = kvm_skip(conf->cpu, r->name, why, sizeof(why)))) {
			log_info("modules: skipped %s: %s", r->name, skip);
			st->skipped++;
		} else if (names_has(&builtin, r->name))
			st->builtin++;
		else if ((e = moddep_find(&md, r->name)) == NULL) {
			log_warnx("modules: failed to load %s: not in modules.dep",
			    r->name);
			st->failed++;
		} else if (load_one(conf, &md, e, r->params, order, why,
		    sizeof(why)) == -1) {
			log_warnx("modules: failed to load %s: %s", r->name, why);
			st->failed++;
		} else
			st->loaded++;
	}
	log_info("modules: %u loaded, %u built in, %u skipped, %u failed",
	    st->loaded, st->builtin, st->skipped, st->failed);
	rv = 0;
err:
	free(order);
	names_free(&builtin);
	moddep_free(&md);
	modlist_free(&ml);
	free(bi);
	free(dep);
	free(list);
	return rv;
}

/* Files that do not end in .ko are compressed; the kernel unpacks them. */
int
module_insert(const char *path, const char *params)
{
	size_t	 l = strlen(path);
	int	 fd, flags = 0, rv, saved;

	if (l < 3 || strcmp(path + l - 3, ".ko") != 0)
		flags = MODULE_INIT_COMPRESSED_FILE;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	rv = syscall(SYS_finit_module, fd, params, flags);
	saved = errno;
	close(fd);
	errno = saved;
	return rv == -1 ? -1 : 0;
}

int
modules_init(const struct cpu *cpu)
{
	struct modconf	 conf;
	struct modstats	 st;
	struct utsname	 u;
	char		 dir[PATH_MAX];

	if (uname(&u) == -1) {
		log_warn("modules: uname");
		return -1;
	}
	snprintf(dir, sizeof(dir), "/lib/modules/%s", u.release);
	conf.list = "/etc/nestbox/modules";
	conf.dir = dir;
	conf.cpu = cpu;
	conf.load = module_insert;
	return modules_load(&conf, &st);
}

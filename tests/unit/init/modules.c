#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

static void
modname_norm(void **state)
{
	char	 out[MODNAME_MAX], long_name[80];

	(void)state;
	assert_int_equal(modname("kvm-intel", 9, out), 0);
	assert_string_equal(out, "kvm_intel");
	assert_int_equal(modname("virtio_net trailing", 10, out), 0);
	assert_string_equal(out, "virtio_net");
	assert_int_equal(modname("", 0, out), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(modname("foo/bar", 7, out), -1);
	assert_int_equal(modname("foo bar", 7, out), -1);
	assert_int_equal(modname("foo.ko", 6, out), -1);
	memset(long_name, 'x', sizeof(long_name));
	assert_int_equal(modname(long_name, MODNAME_MAX - 1, out), 0);
	assert_int_equal(strlen(out), MODNAME_MAX - 1);
	assert_int_equal(modname(long_name, MODNAME_MAX, out), -1);
	assert_int_equal(errno, ENAMETOOLONG);
}

static void
modname_from_path(void **state)
{
	char	 out[MODNAME_MAX];

	(void)state;
	assert_int_equal(modname_path("kernel/arch/x86/kvm/kvm-amd.ko", out), 0);
	assert_string_equal(out, "kvm_amd");
	assert_int_equal(modname_path("kernel/a/nf_nat.ko.xz", out), 0);
	assert_string_equal(out, "nf_nat");
	assert_int_equal(modname_path("x.ko.zst", out), 0);
	assert_int_equal(modname_path("/abs/x.ko.gz", out), 0);
	assert_int_equal(modname_path("kernel/x.ko.bz3", out), -1);
	assert_int_equal(modname_path("kernel/x.o", out), -1);
	assert_int_equal(modname_path("kernel/x.kobj", out), -1);
	assert_int_equal(modname_path("kernel/.ko", out), -1);
	assert_int_equal(modname_path("kernel/x.ko/", out), -1);
	assert_int_equal(modname_path("", out), -1);
}

static void
modlist_good(void **state)
{
	char		*text = dupstr(
	    "# comment\n"
	    "\n"
	    "virtio_net\n"
	    "  kvm-intel   # inline comment\n"
	    "kvm_intel\n"			/* the same as kvm-intel */
	    "loop max_loop=8  \n"
	    "\tbridge\r\n"
	    "evdev");				/* no final newline */
	struct modlist	 ml;

	(void)state;
	assert_int_equal(modlist_parse(text, strlen(text), &ml), 0);
	assert_int_equal(ml.n, 5);
	assert_int_equal(ml.bad, 0);
	assert_string_equal(ml.v[0].name, "virtio_net");
	assert_int_equal(ml.v[0].line, 3);
	assert_string_equal(ml.v[0].params, "");
	assert_string_equal(ml.v[1].name, "kvm_intel");
	assert_string_equal(ml.v[1].params, "");
	assert_string_equal(ml.v[2].name, "loop");
	assert_string_equal(ml.v[2].params, "max_loop=8");
	assert_string_equal(ml.v[3].name, "bridge");
	assert_string_equal(ml.v[4].name, "evdev");
	modlist_free(&ml);
	free(text);
}

static void
modlist_bad(void **state)
{
	char		 line[300], *text;
	struct modlist	 ml;
	size_t		 i;

	(void)state;
	memset(line, 'a', sizeof(line));
	line[sizeof(line) - 1] = '\0';
	text = malloc(strlen(line) + 100);
	assert_non_null(text);
	snprintf(text, strlen(line) + 100, "good\n%s\nbad/name\n../x\nfoo.ko\nok-2\n", line);
	assert_int_equal(modlist_parse(text, strlen(text), &ml), 0);
	assert_int_equal(ml.n, 2);
	assert_int_equal(ml.bad, 4);
	assert_string_equal(ml.v[1].name, "ok_2");
	modlist_free(&ml);
	free(text);

	/* an empty list, and one with too many modules */
	text = dupstr("");
	assert_int_equal(modlist_parse(text, 0, &ml), 0);
	assert_int_equal(ml.n, 0);
	modlist_free(&ml);
	free(text);
	text = malloc(2000 * 8 + 1);
	assert_non_null(text);
	for (i = 0; i < 2000; i++)
		snprintf(text + i * 8, 9, "m%06zu\n", i);
	assert_int_equal(modlist_parse(text, 2000 * 8, &ml), 0);
	assert_int_equal(ml.n, 1024);
	assert_int_equal(ml.bad, 2000 - 1024);
	modlist_free(&ml);
	free(text);
}

/* A slice of the cloud kernel's modules.dep. */
static const char depfile[] =
    "kernel/arch/x86/kvm/kvm.ko: kernel/virt/lib/irqbypass.ko\n"
    "kernel/arch/x86/kvm/kvm-intel.ko: kernel/arch/x86/kvm/kvm.ko kernel/virt/lib/irqbypass.ko\n"
    "kernel/arch/x86/kvm/kvm-amd.ko: kernel/arch/x86/kvm/kvm.ko kernel/virt/lib/irqbypass.ko\n"
    "kernel/virt/lib/irqbypass.ko:\n"
    "kernel/lib/libcrc32c.ko:\n"
    "kernel/drivers/acpi/button.ko:\n"
    "kernel/net/netfilter/nf_nat.ko: kernel/net/netfilter/nf_conntrack.ko "
	"kernel/net/ipv6/netfilter/nf_defrag_ipv6.ko "
	"kernel/net/ipv4/netfilter/nf_defrag_ipv4.ko kernel/lib/libcrc32c.ko\n"
    "kernel/net/netfilter/nf_conntrack.ko: kernel/net/ipv6/netfilter/nf_defrag_ipv6.ko "
	"kernel/net/ipv4/netfilter/nf_defrag_ipv4.ko kernel/lib/libcrc32c.ko\n"
    "kernel/net/ipv6/netfilter/nf_defrag_ipv6.ko:\n"
    "kernel/net/ipv4/netfilter/nf_defrag_ipv4.ko:\n"
    "kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko\n"
    "kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko\n"
    "kernel/net/core/failover.ko:\n"
    "kernel/drivers/broken.ko:\n"
    "kernel/drivers/needs_broken.ko: kernel/drivers/broken.ko\n"
    "kernel/drivers/gone.ko: kernel/drivers/not_there.ko\n"
    "kernel/drivers/cyc_a.ko: kernel/drivers/cyc_b.ko\n"
    "kernel/drivers/cyc_b.ko: kernel/drivers/cyc_a.ko\n"
    "kernel/drivers/selfish.ko: kernel/drivers/selfish.ko\n";

static void
moddep_parse_good(void **state)
{
	char		*text = dupstr(depfile);
	struct moddep	 md;
	struct modentry	*e;
	size_t		 i;

	(void)state;
	assert_int_equal(moddep_parse(text, strlen(text), &md), 0);
	assert_int_equal(md.n, 19);
	assert_int_equal(md.bad, 0);
	for (i = 1; i < md.n; i++)
		assert_true(strcmp(md.v[i - 1].name, md.v[i].name) < 0);
	assert_non_null(e = moddep_find(&md, "kvm_intel"));
	assert_string_equal(e->path, "kernel/arch/x86/kvm/kvm-intel.ko");
	assert_int_equal(e->ndeps, 2);
	assert_string_equal(e->deps[1], "kernel/virt/lib/irqbypass.ko");
	assert_non_null(e = moddep_find(&md, "button"));
	assert_int_equal(e->ndeps, 0);
	assert_null(moddep_find(&md, "kvm-intel"));	/* callers normalize */
	assert_null(moddep_find(&md, "nope"));
	moddep_free(&md);
	free(text);
}

static void
moddep_parse_bad(void **state)
{
	char		*text, *p;
	struct moddep	 md;
	size_t		 i, len;

	(void)state;
	text = dupstr(
	    "no colon here\n"
	    ": kernel/a.ko\n"
	    "kernel/not a module.ko:\n"
	    "kernel/x.txt:\n"
	    "kernel/ok.ko: kernel/dep.o\n"
	    "kernel/twice.ko:\n"
	    "kernel/other/twice.ko.xz: kernel/ok.ko\n"
	    "   \n"
	    "kernel/fine.ko:kernel/twice.ko\n"
	    "kernel/tail.ko:   ");
	assert_int_equal(moddep_parse(text, strlen(text), &md), 0);
	assert_int_equal(md.n, 3);		/* twice, fine, tail */
	assert_int_equal(md.bad, 6);
	assert_string_equal(moddep_find(&md, "twice")->path, "kernel/twice.ko");
	assert_int_equal(moddep_find(&md, "fine")->ndeps, 1);
	assert_int_equal(moddep_find(&md, "tail")->ndeps, 0);
	moddep_free(&md);
	free(text);

	/* a line with more dependencies than any module has */
	len = 32 + (MODDEP_MAX_DEPS + 1) * 16;
	text = malloc(len);
	assert_non_null(text);
	p = text + sprintf(text, "kernel/huge.ko:");
	for (i = 0; i <= MODDEP_MAX_DEPS; i++)
		p += sprintf(p, " k/d%08zu.ko", i);
	p += sprintf(p, "\nkernel/small.ko:\n");
	assert_int_equal(moddep_parse(text, p - text, &md), 0);
	assert_int_equal(md.n, 1);
	assert_int_equal(md.bad, 1);
	moddep_free(&md);
	free(text);

	/* a path longer than PATH_MAX */
	len = PATH_MAX + 64;
	text = malloc(len);
	assert_non_null(text);
	memset(text, 'a', len);
	memcpy(text + PATH_MAX + 10, ".ko:\n", 5);
	assert_int_equal(moddep_parse(text, PATH_MAX + 15, &md), 0);
	assert_int_equal(md.n, 0);
	assert_int_equal(md.bad, 1);
	moddep_free(&md);
	free(text);

	text = dupstr("");
	assert_int_equal(moddep_parse(text, 0, &md), 0);
	assert_int_equal(md.n, 0);
	assert_null(moddep_find(&md, "x"));
	moddep_free(&md);
	free(text);
}

static void
plan_names(struct moddep *md, const char *name, char *out, size_t size)
{
	struct modentry	*order[64];
	const char	*culprit;
	size_t		 n, i;

	assert_int_equal(moddep_plan(md, moddep_find(md, name), order, 64, &n,
	    &culprit), 0);
	out[0] = '\0';
	for (i = 0; i < n; i++) {
		strncat(out, order[i]->name, size - strlen(out) - 1);
		strncat(out, i + 1 < n ? " " : "", size - strlen(out) - 1);
	}
}

static void
moddep_plan_order(void **state)
{
	char		*text = dupstr(depfile), got[512];
	struct moddep	 md;

	(void)state;
	assert_int_equal(moddep_parse(text, strlen(text), &md), 0);
	plan_names(&md, "nf_nat", got, sizeof(got));
	assert_string_equal(got,
	    "libcrc32c nf_defrag_ipv4 nf_defrag_ipv6 nf_conntrack nf_nat");
	plan_names(&md, "kvm_amd", got, sizeof(got));
	assert_string_equal(got, "irqbypass kvm kvm_amd");
	plan_names(&md, "virtio_net", got, sizeof(got));
	assert_string_equal(got, "failover net_failover virtio_net");
	plan_names(&md, "button", got, sizeof(got));
	assert_string_equal(got, "button");
	moddep_free(&md);
	free(text);

	/* deps in the wrong order on a line: each still comes after its own */
	text = dupstr("a.ko: b.ko c.ko d.ko\nb.ko: c.ko d.ko\nc.ko: d.ko\nd.ko:\n"
	    "x.ko: d.ko c.ko b.ko\n");
	assert_int_equal(moddep_parse(text, strlen(text), &md), 0);
	plan_names(&md, "a", got, sizeof(got));
	assert_string_equal(got, "d c b a");
	plan_names(&md, "x", got, sizeof(got));
	assert_string_equal(got, "d c b x");
	moddep_free(&md);
	free(text);
}

static void
moddep_plan_errors(void **state)
{
	char		*text = dupstr(depfile), *p;
	struct moddep	 md;
	struct modentry	*order[64];
	const char	*culprit;
	size_t		 n, i;

	(void)state;
	assert_int_equal(moddep_parse(text, strlen(text), &md), 0);
	assert_int_equal(moddep_plan(&md, moddep_find(&md, "cyc_a"), order, 64,
	    &n, &culprit), -1);
	assert_int_equal(errno, ELOOP);
	assert_string_equal(culprit, "cyc_a");
	assert_int_equal(moddep_plan(&md, moddep_find(&md, "selfish"), order, 64,
	    &n, &culprit), -1);
	assert_int_equal(errno, ELOOP);
	assert_int_equal(moddep_plan(&md, moddep_find(&md, "gone"), order, 64,
	    &n, &culprit), -1);
	assert_int_equal(errno, ENOENT);
	assert_string_equal(culprit, "kernel/drivers/not_there.ko");
	assert_int_equal(moddep_plan(&md, moddep_find(&md, "nf_nat"), order, 3,
	    &n, &culprit), -1);
	assert_int_equal(errno, E2BIG);
	/* a failed plan leaves nothing behind for the next one */
	assert_int_equal(moddep_plan(&md, moddep_find(&md, "nf_nat"), order, 64,
	    &n, &culprit), 0);
	assert_int_equal(n, 5);
	moddep_free(&md);
	free(text);

	/* a chain deeper than any real one ends, however long the file */
	text = malloc(200 * 32);
	assert_non_null(text);
	for (p = text, i = 0; i < 200; i++)
		p += sprintf(p, "m%zu.ko: m%zu.ko\n", i, i + 1);
	p += sprintf(p, "m200.ko:\n");
	assert_int_equal(moddep_parse(text, p - text, &md), 0);
	assert_int_equal(moddep_plan(&md, moddep_find(&md, "m0"), order, 64, &n,
	    &culprit), -1);
	assert_int_equal(errno, ELOOP);
	assert_int_equal(moddep_plan(&md, moddep_find(&md, "m190"), order, 64, &n,
	    &culprit), 0);
	assert_int_equal(n, 11);
	moddep_free(&md);
	free(text);
}

static void
builtin_names(void **state)
{
	char		*text = dupstr("kernel/drivers/nvme/host/nvme-core.ko\n"
	    "kernel/drivers/virtio/virtio.ko\nkernel/drivers/nvme/host/nvme.ko\n"
	    "garbage line\n\nkernel/drivers/virtio/virtio.ko\nkernel/x/ext4.ko");
	struct names	 ns;

	(void)state;
	assert_int_equal(names_parse(text, strlen(text), &ns), 0);
	assert_int_equal(ns.n, 4);
	assert_true(names_has(&ns, "nvme_core"));
	assert_true(names_has(&ns, "nvme"));
	assert_true(names_has(&ns, "ext4"));
	assert_false(names_has(&ns, "nvme-core"));
	assert_false(names_has(&ns, "garbage"));
	names_free(&ns);
	free(text);
	text = dupstr("");
	assert_int_equal(names_parse(text, 0, &ns), 0);
	assert_false(names_has(&ns, "x"));
	names_free(&ns);
	free(text);
}

/* modules_load() with a fake finit_module(2) that records its calls. */
static char	 loads[2048];
static char	 load_params[256];

static int
fake_load(const char *path, const char *params)
{
	const char	*base = strrchr(path, '/') + 1;

	strncat(loads, base, sizeof(loads) - strlen(loads) - 2);
	strcat(loads, " ");
	if (params[0] != '\0')
		snprintf(load_params, sizeof(load_params), "%s=%s", base, params);
	if (strcmp(base, "broken.ko") == 0) {
		errno = ENOEXEC;
		return -1;
	}
	if (strcmp(base, "irqbypass.ko") == 0) {
		errno = EEXIST;		/* loaded already: fine */
		return -1;
	}
	return 0;
}

static char *
load_dir(const char *list)
{
	char	*dir = tmpdir();

	put_file(dir, "modules.dep", depfile);
	put_file(dir, "modules.builtin", "kernel/drivers/nvme/host/nvme.ko\n"
	    "kernel/drivers/input/evdev.ko\n");
	put_file(dir, "list", list);
	loads[0] = load_params[0] = '\0';
	return dir;
}

static const char biglist[] =
    "# as in config/modules.list\n"
    "virtio_net\n"
    "nvme\n"
    "kvm\n"
    "kvm_intel\n"
    "kvm-amd\n"
    "kvm_amd\n"
    "nf_nat hashsize=1024\n"
    "nf-conntrack\n"
    "needs_broken\n"
    "broken\n"
    "missing\n"
    "cyc_a\n"
    "bad!name\n"
    "button\n"
    "evdev\n";

static void
modules_load_amd(void **state)
{
	struct cpu	 cpu = { CPU_AMD, "AuthenticAMD", 0, 1 };
	struct modconf	 conf;
	struct modstats	 st;
	char		 list[4096], *dir = load_dir(biglist), *log;
	int		 fd;

	(void)state;
	snprintf(list, sizeof(list), "%s/list", dir);
	conf.list = list;
	conf.dir = dir;
	conf.cpu = &cpu;
	conf.load = fake_load;
	fd = log_capture();
	assert_int_equal(modules_load(&conf, &st), 0);
	log = log_captured(fd);

	/* each module once, after what it needs; params for nf_nat only */
	assert_string_equal(loads,
	    "failover.ko net_failover.ko virtio_net.ko irqbypass.ko kvm.ko "
	    "kvm-amd.ko libcrc32c.ko nf_defrag_ipv4.ko nf_defrag_ipv6.ko "
	    "nf_conntrack.ko nf_nat.ko broken.ko button.ko ");
	assert_string_equal(load_params, "nf_nat.ko=hashsize=1024");
	/* loaded: virtio_net kvm kvm_amd nf_nat nf_conntrack button;
	 * built in: nvme evdev; skipped: kvm_intel;
	 * failed: needs_broken broken missing cyc_a and the bad name */
	assert_int_equal(st.loaded, 6);
	assert_int_equal(st.builtin, 2);
	assert_int_equal(st.skipped, 1);
	assert_int_equal(st.failed, 5);
	assert_non_null(strstr(log,
	    "nestbox: modules: 6 loaded, 2 built in, 1 skipped, 5 failed\n"));
	assert_non_null(strstr(log,
	    "nestbox: modules: skipped kvm_intel: the CPU is AuthenticAMD, not GenuineIntel\n"));
	assert_non_null(strstr(log, "nestbox: warning: modules: failed to load needs_broken: "
	    "dependency broken: Exec format error\n"));
	assert_non_null(strstr(log, "nestbox: warning: modules: failed to load broken: "
	    "Exec format error\n"));
	assert_non_null(strstr(log, "nestbox: warning: modules: failed to load missing: "
	    "not in modules.dep\n"));
	assert_non_null(strstr(log, "nestbox: warning: modules: failed to load cyc_a: "
	    "cyc_a: dependency cycle\n"));
	assert_non_null(strstr(log, "nestbox: warning: modules: list line 14: bad module name"));
	free(log);
	rmtree(dir);
}

static void
modules_load_intel_without_vmx(void **state)
{
	struct cpu	 cpu = { CPU_INTEL, "GenuineIntel", 0, 0 };
	struct modconf	 conf;
	struct modstats	 st;
	char		 list[4096], *dir = load_dir("kvm\nkvm_intel\nkvm_amd\n"), *log;
	int		 fd;

	(void)state;
	snprintf(list, sizeof(list), "%s/list", dir);
	conf = (struct modconf){ list, dir, &cpu, fake_load };
	fd = log_capture();
	assert_int_equal(modules_load(&conf, &st), 0);
	log = log_captured(fd);
	assert_string_equal(loads, "irqbypass.ko kvm.ko ");
	assert_int_equal(st.loaded, 1);
	assert_int_equal(st.skipped, 2);
	assert_non_null(strstr(log, "skipped kvm_intel: the CPU has no vmx flag"));
	assert_non_null(strstr(log, "skipped kvm_amd: the CPU is GenuineIntel, not AuthenticAMD"));
	free(log);

	/* no CPU information: both skipped */
	conf.cpu = NULL;
	loads[0] = '\0';
	assert_int_equal(modules_load(&conf, &st), 0);
	assert_int_equal(st.skipped, 2);
	assert_int_equal(st.loaded, 1);

	/* Intel with vmx */
	cpu.vmx = 1;
	conf.cpu = &cpu;
	loads[0] = '\0';
	assert_int_equal(modules_load(&conf, &st), 0);
	assert_string_equal(loads, "irqbypass.ko kvm.ko kvm-intel.ko ");
	assert_int_equal(st.loaded, 2);
	assert_int_equal(st.skipped, 1);
	rmtree(dir);
}

static void
modules_load_missing_files(void **state)
{
	struct modconf	 conf;
	struct modstats	 st;
	char		 path[4096], *dir = tmpdir();

	(void)state;
	snprintf(path, sizeof(path), "%s/list", dir);
	conf = (struct modconf){ path, dir, NULL, fake_load };
	assert_int_equal(modules_load(&conf, &st), -1);	/* no list */
	assert_int_equal(errno, ENOENT);
	/* no modules.dep nor modules.builtin: everything fails, nothing breaks */
	put_file(dir, "list", "a\nb\n");
	loads[0] = '\0';
	assert_int_equal(modules_load(&conf, &st), 0);
	assert_int_equal(st.failed, 2);
	assert_string_equal(loads, "");
	rmtree(dir);
}

static void
modules_insert_errors(void **state)
{
	(void)state;
	/* not root, or no such file: an error, never a crash */
	assert_int_equal(module_insert("/nonexistent/x.ko", ""), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(module_insert("/dev/null", ""), -1);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(modname_norm),
	cmocka_unit_test(modname_from_path),
	cmocka_unit_test(modlist_good),
	cmocka_unit_test(modlist_bad),
	cmocka_unit_test(moddep_parse_good),
	cmocka_unit_test(moddep_parse_bad),
	cmocka_unit_test(moddep_plan_order),
	cmocka_unit_test(moddep_plan_errors),
	cmocka_unit_test(builtin_names),
	cmocka_unit_test(modules_load_amd),
	cmocka_unit_test(modules_load_intel_without_vmx),
	cmocka_unit_test(modules_load_missing_files),
	cmocka_unit_test(modules_insert_errors),
};
const struct suite modules_suite = { tests, NTESTS(tests) };

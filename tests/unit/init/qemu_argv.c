/*
 * QEMU command lines, one golden file per kind of guest
 * (tests/unit/golden/guests/qemu-NAME.argv, one argument a line), and the
 * builder's errors: too small a buffer, a path the guest needs missing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

#define DOC(g)	"{\"version\": 1, \"guests\": [" g "]}"

static void
one(const char *json, struct guest_set *set)
{
	struct guest_errors	 errs;

	assert_int_equal(guests_parse(json, strlen(json), set, &errs), 0);
	if (errs.n > 0)
		fail_msg("%s", errs.v[0]);
	assert_int_equal(set->n, 1);
	guest_errors_free(&errs);
}

static void
env_default(struct qemu_env *env, const char *name)
{
	static char	 run[128], log[128];

	memset(env, 0, sizeof(*env));
	snprintf(run, sizeof(run), "/run/nestbox/guests/%s", name);
	snprintf(log, sizeof(log), "/state/guests/%s/console.log", name);
	env->run_dir = run;
	env->console_log = log;
	env->tap = "nbt0";
	env->kvm = 1;
	env->vhost = 1;
	env->direct_io = 1;
}

static void
check(const char *golden_name, const char *json, struct qemu_env *env)
{
	struct guest_set	 set;
	char			 buf[QEMU_BUF_MAX], out[QEMU_BUF_MAX + 1024], path[128];
	char			*argv[QEMU_ARGV_MAX];
	struct text		 t;
	int			 argc, i;

	one(json, &set);
	argc = qemu_argv(&set.v[0], env, buf, sizeof(buf), argv, QEMU_ARGV_MAX);
	if (argc == -1)
		fail_msg("%s: %s", golden_name, strerror(errno));
	assert_null(argv[argc]);
	text_init(&t, out, sizeof(out));
	for (i = 0; i < argc; i++)
		text_add(&t, "%s\n", argv[i]);
	assert_true(text_done(&t) >= 0);
	snprintf(path, sizeof(path), "guests/qemu-%s.argv", golden_name);
	golden(path, out);
	guests_free(&set);
}

static void
qemu_kinds(void **state)
{
	struct qemu_env	 env;

	(void)state;
	/* accel kvm, a pd disk: cache=none even without direct_io */
	env_default(&env, "web");
	env.direct_io = 0;
	env.disk[0] = "/state/images/web.raw";
	env.disk[1] = "/dev/disk/by-id/google-data";
	check("kvm", DOC("{\"name\": \"web\", \"vcpus\": 2, \"memory\": \"2G\", \"accel\": \"kvm\","
	    " \"mac\": \"52:54:00:12:34:56\", \"disks\": [{\"source\": \"state:images/web.raw\"},"
	    " {\"source\": \"pd:data\"}]}"), &env);
	/* tcg, though /dev/kvm is there; no vhost-net */
	env_default(&env, "slow");
	env.vhost = 0;
	env.disk[0] = "/state/images/slow.raw";
	check("tcg", DOC("{\"name\": \"slow\", \"memory\": \"512M\", \"accel\": \"tcg\","
	    " \"disks\": [{\"source\": \"state:images/slow.raw\"}]}"), &env);
	/* auto without /dev/kvm: tcg */
	env_default(&env, "auto");
	env.kvm = 0;
	env.disk[0] = "/state/images/auto.raw";
	check("auto-nokvm", DOC("{\"name\": \"auto\", \"memory\": \"256M\","
	    " \"disks\": [{\"source\": \"state:images/auto.raw\"}]}"), &env);
	/* direct boot: no bootindex, kernel, initrd, cmdline as one argument */
	env_default(&env, "direct");
	env.kernel = "/state/cache/sha256/1111";
	env.initrd = "/state/cache/sha256/2222";
	env.disk[0] = "/state/images/direct.raw";
	check("direct-boot", DOC("{\"name\": \"direct\", \"memory\": \"128M\","
	    " \"kernel\": {\"source\": \"https://example.com/vmlinuz\"},"
	    " \"initrd\": {\"source\": \"https://example.com/initrd\"},"
	    " \"cmdline\": \"console=ttyS0 root=/dev/vda rw init=/bin/sh -c 'echo hi'\","
	    " \"disks\": [{\"source\": \"state:images/direct.raw\"}]}"), &env);
	/* a qcow2 image behind an overlay, a raw image behind one; a comma in a path */
	env_default(&env, "cow");
	env.disk[0] = "/state/overlays/cow/disk0.qcow2";
	env.disk[1] = "/state/overlays/cow/disk,1.qcow2";
	check("overlay", DOC("{\"name\": \"cow\", \"memory\": \"1G\", \"disks\": ["
	    "{\"source\": \"gs://images/debian.qcow2\", \"format\": \"qcow2\", \"overlay\": true,"
	    " \"size\": \"20G\"}, {\"source\": \"https://example.com/data.raw\", \"overlay\": true}]}"),
	    &env);
	/* cloud-init: the seed after the disks */
	env_default(&env, "ci");
	env.disk[0] = "/state/overlays/ci/disk0.qcow2";
	env.seed = "/state/seeds/ci.img";
	check("cloud-init", DOC("{\"name\": \"ci\", \"memory\": \"1G\", \"disks\": ["
	    "{\"source\": \"https://example.com/debian.qcow2\", \"format\": \"qcow2\"}],"
	    " \"cloud-init\": {\"user-data\": \"#cloud-config\\n\"}}"), &env);
	/* the allowed qemu-args, last */
	env_default(&env, "extra");
	env.bin = "/usr/bin/qemu-system-x86_64";
	env.firmware = "/opt/qemu/share";
	env.disk[0] = "/state/images/extra.raw";
	check("qemu-args", DOC("{\"name\": \"extra\", \"memory\": \"1G\", \"disks\": ["
	    "{\"source\": \"state:images/extra.raw\"}], \"qemu-args\": [\"-device\","
	    " \"virtio-rng-pci\", \"-smbios\", \"type=1,serial=nb-1,,2\", \"-rtc\", \"base=utc\"]}"),
	    &env);
}

static void
qemu_errors(void **state)
{
	struct guest_set	 set;
	struct qemu_env		 env;
	char			 buf[QEMU_BUF_MAX], *argv[QEMU_ARGV_MAX];
	size_t			 size;
	int			 argc;

	(void)state;
	one(DOC("{\"name\": \"web\", \"memory\": \"1G\", \"disks\": [{\"source\": \"state:a\"},"
	    " {\"source\": \"state:b\"}], \"kernel\": {\"source\": \"state:k\"}, \"cloud-init\":"
	    " {\"meta-data\": \"instance-id: web\"}}"), &set);
	env_default(&env, "web");
	env.disk[0] = "/a";
	env.kernel = "/k";
	env.seed = "/seed";
	/* the second disk's path is missing */
	assert_int_equal(qemu_argv(&set.v[0], &env, buf, sizeof(buf), argv, QEMU_ARGV_MAX), -1);
	assert_int_equal(errno, EINVAL);
	env.disk[1] = "/b";
	env.seed = NULL;
	assert_int_equal(qemu_argv(&set.v[0], &env, buf, sizeof(buf), argv, QEMU_ARGV_MAX), -1);
	assert_int_equal(errno, EINVAL);
	env.seed = "/seed";
	env.kernel = NULL;
	assert_int_equal(qemu_argv(&set.v[0], &env, buf, sizeof(buf), argv, QEMU_ARGV_MAX), -1);
	assert_int_equal(errno, EINVAL);
	env.kernel = "/k";
	argc = qemu_argv(&set.v[0], &env, buf, sizeof(buf), argv, QEMU_ARGV_MAX);
	assert_true(argc > 0);
	assert_int_equal(qemu_uses_kvm(&set.v[0], &env), 1);
	/* every smaller buffer or argv: ENOSPC, never an overrun (ASan) */
	for (size = 0; size < 600; size += 7) {
		char	*small = malloc(size ? size : 1);

		assert_int_equal(qemu_argv(&set.v[0], &env, small, size, argv,
		    QEMU_ARGV_MAX), -1);
		assert_int_equal(errno, ENOSPC);
		free(small);
	}
	assert_int_equal(qemu_argv(&set.v[0], &env, buf, sizeof(buf), argv, (size_t)argc), -1);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(qemu_argv(&set.v[0], &env, buf, sizeof(buf), argv, (size_t)argc + 1),
	    argc);
	guests_free(&set);
}

/* The largest guest the parser takes fits the documented buffer sizes. */
static void
qemu_largest(void **state)
{
	struct guest_set	 set;
	struct qemu_env		 env;
	char			 doc[8192], *p, buf[QEMU_BUF_MAX], *argv[QEMU_ARGV_MAX];
	char			 paths[GUEST_DISKS_MAX][300], cmdline[GUEST_CMDLINE_MAX + 1];
	size_t			 i;

	(void)state;
	memset(cmdline, 'c', GUEST_CMDLINE_MAX);
	cmdline[GUEST_CMDLINE_MAX] = '\0';
	p = doc + sprintf(doc, "{\"version\": 1, \"guests\": [{\"name\": \"%.63s\", "
	    "\"memory\": \"1T\", \"vcpus\": 64, \"kernel\": {\"source\": \"state:k\"}, "
	    "\"initrd\": {\"source\": \"state:i\"}, \"cloud-init\": {\"user-data\": \"\"}, "
	    "\"qemu-args\": [", "a12345678901234567890123456789012345678901234567890123456789012");
	for (i = 0; i < GUEST_QEMU_ARGS_MAX; i += 2)
		p += sprintf(p, "%s\"-smbios\", \"type=11,value=%0240zu\"", i ? ", " : "", i);
	p += sprintf(p, "], \"disks\": [");
	for (i = 0; i < GUEST_DISKS_MAX; i++)
		p += sprintf(p, "%s{\"source\": \"state:d%zu\"}", i ? ", " : "", i);
	sprintf(p, "]}]}");
	one(doc, &set);
	free(set.v[0].cmdline);
	assert_non_null(set.v[0].cmdline = strdup(cmdline));
	env_default(&env, set.v[0].name);
	for (i = 0; i < GUEST_DISKS_MAX; i++) {
		memset(paths[i], ',', sizeof(paths[i]) - 1);	/* doubled: 598 bytes */
		paths[i][sizeof(paths[i]) - 1] = '\0';
		env.disk[i] = paths[i];
	}
	env.kernel = env.initrd = env.seed = paths[0];
	assert_true(qemu_argv(&set.v[0], &env, buf, sizeof(buf), argv, QEMU_ARGV_MAX) > 0);
	guests_free(&set);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(qemu_kinds),
	cmocka_unit_test(qemu_errors),
	cmocka_unit_test(qemu_largest),
};

const struct suite qemu_suite = { tests, NTESTS(tests) };

/*
 * A guest's QEMU command line, as an argv: no shell ever sees it, so no
 * value needs quoting for one. Values inside QEMU's KEY=VALUE option lists
 * (file=, path=, logfile=) have their commas doubled, QEMU's own escape.
 *
 * The choices, and why:
 * - q35: PCIe, what libvirt and virt-install pick for new guests, and the
 *   machine OVMF's secure boot needs later. Both machines are in our build.
 * - virtio-blk-pci per disk, not virtio-scsi: one PCI function per disk is
 *   the shortest I/O path and at most 8 disks fit the root bus easily;
 *   virtio-scsi pays off only for many disks or SCSI passthrough.
 * - cache=none (O_DIRECT) where the file system takes it: a persistent disk
 *   (a block device) always, the state partition when env->direct_io says
 *   so (ext4 does; tmpfs in tests does not), else cache=writeback. Our static
 *   QEMU is built without linux-aio and io_uring: aio=threads.
 * - The serial console is a chardev socket with logfile=: QEMU writes every
 *   byte to the log itself (so the log survives PID 1), and the socket is
 *   where PID 1 reads lines to mirror them to the L1's console and relays
 *   `nestbox console NAME` (one client at a time, so PID 1 is that client).
 * - QMP on its own socket, through -chardev and -mon so the path is escaped
 *   like any other value.
 * - romfile= on the NIC: we ship no iPXE ROMs; SeaBIOS boots from the disk.
 * - The allow-listed qemu-args (guest.c) go last.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "guest/guest.h"

struct argbuf {
	char	*buf, **argv;
	size_t	 size, used, maxargv, argc;
	int	 full;
};

/* Appends one argument, printf-style; a.full once anything does not fit. */
static void
add(struct argbuf *a, const char *fmt, ...) NB_PRINTF(2, 3);

static void
add(struct argbuf *a, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	if (a->full)
		return;
	if (a->argc + 1 >= a->maxargv) {
		a->full = 1;
		return;
	}
	va_start(ap, fmt);
	n = vsnprintf(a->buf + a->used, a->size - a->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= a->size - a->used) {
		a->full = 1;
		return;
	}
	a->argv[a->argc++] = a->buf + a->used;
	a->used += (size_t)n + 1;
}

/* s with its commas doubled, into tmp (QEMU's escape inside option lists). */
static const char *
esc(const char *s, char *tmp, size_t size)
{
	size_t	 o = 0;

	for (; *s != '\0' && o + 2 < size; s++) {
		tmp[o++] = *s;
		if (*s == ',')
			tmp[o++] = ',';
	}
	tmp[o] = '\0';
	return *s == '\0' ? tmp : NULL;
}

int
qemu_uses_kvm(const struct guest *g, const struct qemu_env *env)
{
	return g->accel == ACCEL_KVM || (g->accel == ACCEL_AUTO && env->kvm);
}

/*
 * Builds g's command line from env into argv (at most maxargv entries with
 * the closing NULL), the strings into buf. Returns argc; -1 with ENOSPC if
 * buf or argv is too small, EINVAL if env lacks a path g needs.
 */
int
qemu_argv(const struct guest *g, const struct qemu_env *env, char *buf, size_t size,
    char **argv, size_t maxargv)
{
	struct argbuf	 a = { buf, argv, size, 0, maxargv, 0, 0 };
	char		 e1[1024], e2[1024], mac[18];
	const char	*format, *cache;
	size_t		 i;

	if (env->run_dir == NULL || env->console_log == NULL || env->tap == NULL ||
	    (g->kernel.kind != SRC_NONE && env->kernel == NULL) ||
	    (g->initrd.kind != SRC_NONE && env->initrd == NULL) ||
	    (g->cloud_init && env->seed == NULL))
		goto inval;
	for (i = 0; i < g->ndisks; i++)
		if (env->disk[i] == NULL || esc(env->disk[i], e1, sizeof(e1)) == NULL)
			goto inval;
	if (esc(env->run_dir, e1, sizeof(e1)) == NULL ||
	    esc(env->console_log, e1, sizeof(e1)) == NULL ||
	    (env->seed != NULL && esc(env->seed, e1, sizeof(e1)) == NULL))
		goto inval;

	add(&a, "%s", env->bin != NULL ? env->bin : QEMU_BIN);
	add(&a, "-name");
	add(&a, "guest=%s", g->name);
	add(&a, "-nodefaults");
	add(&a, "-no-user-config");
	add(&a, "-machine");
	add(&a, "q35");
	add(&a, "-accel");
	if (qemu_uses_kvm(g, env)) {
		add(&a, "kvm");
		add(&a, "-cpu");
		add(&a, "host");
	} else {
		add(&a, "tcg");
		add(&a, "-cpu");
		add(&a, "max");
	}
	add(&a, "-smp");
	add(&a, "%u", g->vcpus);
	add(&a, "-m");
	add(&a, "%lluM", (unsigned long long)(g->memory >> 20));
	add(&a, "-L");
	add(&a, "%s", env->firmware != NULL ? env->firmware : QEMU_FIRMWARE);
	add(&a, "-display");
	add(&a, "none");

	for (i = 0; i < g->ndisks; i++) {
		const struct guest_disk *d = &g->disks[i];

		format = d->overlay || d->format == FMT_QCOW2 ? "qcow2" : "raw";
		cache = d->src.kind == SRC_PD || env->direct_io ? "none" : "writeback";
		add(&a, "-drive");
		add(&a, "file=%s,if=none,id=disk%zu,format=%s,cache=%s,aio=threads,"
		    "discard=unmap", esc(env->disk[i], e1, sizeof(e1)), i, format, cache);
		add(&a, "-device");
		add(&a, "virtio-blk-pci,drive=disk%zu%s", i,
		    i == 0 && g->kernel.kind == SRC_NONE ? ",bootindex=1" : "");
	}
	if (g->cloud_init) {
		add(&a, "-drive");
		add(&a, "file=%s,if=none,id=seed,format=raw,readonly=on",
		    esc(env->seed, e1, sizeof(e1)));
		add(&a, "-device");
		add(&a, "virtio-blk-pci,drive=seed");
	}
	if (g->kernel.kind != SRC_NONE) {
		add(&a, "-kernel");
		add(&a, "%s", env->kernel);
		if (g->initrd.kind != SRC_NONE) {
			add(&a, "-initrd");
			add(&a, "%s", env->initrd);
		}
		if (g->cmdline != NULL) {
			add(&a, "-append");
			add(&a, "%s", g->cmdline);
		}
	}

	add(&a, "-netdev");
	add(&a, "tap,id=net0,ifname=%s,script=no,downscript=no%s", env->tap,
	    env->vhost ? ",vhost=on" : "");
	add(&a, "-device");
	add(&a, "virtio-net-pci,netdev=net0,mac=%s,romfile=", guest_mac_str(g->mac, mac));

	add(&a, "-chardev");
	add(&a, "socket,id=qmp,path=%s/qmp.sock,server=on,wait=off",
	    esc(env->run_dir, e1, sizeof(e1)));
	add(&a, "-mon");
	add(&a, "chardev=qmp,mode=control");
	add(&a, "-chardev");
	add(&a, "socket,id=console,path=%s/console.sock,server=on,wait=off,"
	    "logfile=%s,logappend=on", esc(env->run_dir, e1, sizeof(e1)),
	    esc(env->console_log, e2, sizeof(e2)));
	add(&a, "-serial");
	add(&a, "chardev:console");

	for (i = 0; i < g->nqemu_args; i++)
		add(&a, "%s", g->qemu_args[i]);

	if (a.full) {
		errno = ENOSPC;
		return -1;
	}
	argv[a.argc] = NULL;
	return (int)a.argc;
inval:
	errno = EINVAL;
	return -1;
}

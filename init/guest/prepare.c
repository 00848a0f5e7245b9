/*
 * FETCHING: a guest's sources made into the files QEMU opens, a step at a
 * time. vm_prepare() looks at what is there and says what to do next:
 * nothing (every file is in place), run this child (nestbox-fetch as the
 * unprivileged fetcher, qemu-img as the guest), wait for another guest's
 * download of the same file, or fail. Each child writes under a temporary
 * name that is renamed when it succeeds, so a file under its final name is
 * always whole and a restart picks up where the last attempt stopped.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "guest/vm.h"

/* FNV-1a: a name for something, not a defence against anyone. */
static unsigned long
fnv(const char *s, uint32_t h)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; p != NULL && *p != '\0'; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

/* 8 hex digits naming a source, for the names of files made from it. */
static unsigned long
src_key(const struct guest_source *s)
{
	return fnv(s->sha256, (uint32_t)fnv(s->uri, 2166136261u));
}

static int
fail(struct vm_step *st, int transient, const char *fmt, ...) NB_PRINTF(3, 4);

static int
fail(struct vm_step *st, int transient, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(st->error, sizeof(st->error), fmt, ap);
	va_end(ap);
	st->kind = STEP_FAIL;
	st->transient = transient;
	return -1;
}

/* argv into the step's own buffer: it outlives the caller's strings. */
static int
spawn_step(struct vm_step *st, enum job_kind job, char *const argv[], uid_t uid)
{
	size_t	 i, off = 0, len;

	for (i = 0; argv[i] != NULL && i + 1 < QEMU_ARGV_MAX; i++) {
		len = strlen(argv[i]) + 1;
		if (off + len > sizeof(st->buf))
			return fail(st, 0, "%s: %s", argv[0], strerror(E2BIG));
		memcpy(st->buf + off, argv[i], len);
		st->argv[i] = st->buf + off;
		off += len;
	}
	st->argv[i] = NULL;
	st->kind = STEP_SPAWN;
	st->job = job;
	st->cred.uid = uid;
	st->cred.gid = uid;
	st->cred.groups = NULL;
	st->cred.ngroups = 0;
	st->input = NULL;
	return 1;
}

/* A download of path runs for some guest already. */
static int
fetch_busy(const char *path)
{
	size_t	 i;

	for (i = 0; i < GUESTS_MAX; i++)
		if (vms.v[i] != NULL && vms.v[i]->job_kind == JOB_FETCH &&
		    strcmp(vms.v[i]->job_dest, path) == 0)
			return 1;
	return 0;
}

/*
 * The disk at dev is the L1's own: the disk store.c found the state
 * partition on or the L1 booted from (by device number, mounted or not),
 * or one with a file system mounted on the L1. GCE's boot disk is
 * "persistent-disk-0": a guest must never get it.
 */
int
disk_is_the_l1s(const char *dev)
{
	struct stat	 d, st;
	char		 path[128], *text, *line, *end;
	size_t		 len;
	unsigned	 maj, min;

	if (stat(dev, &d) == -1 || !S_ISBLK(d.st_mode))
		return 0;
	/* by identity: the disk store.c took the state partition from (or
	 * booted from), mounted or not */
	if (store_is_l1_disk(d.st_rdev))
		return 1;
	/* every mounted block device: itself, or one of its partitions */
	if ((text = read_file("/proc/self/mountinfo", 1 << 20, &len)) == NULL)
		return 0;
	for (end = text + len; (line = next_line(&text, end)) != NULL; ) {
		if (sscanf(line, "%*u %*u %u:%u", &maj, &min) != 2 || maj == 0)
			continue;
		if (makedev(maj, min) == d.st_rdev)
			goto yes;
		/* a partition: its parent's dev */
		snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/../dev", maj, min);
		if (stat(path, &st) == 0) {
			char	 buf[32];
			unsigned pmaj, pmin;

			if (read_head(path, buf, sizeof(buf)) > 0 &&
			    sscanf(buf, "%u:%u", &pmaj, &pmin) == 2 &&
			    makedev(pmaj, pmin) == d.st_rdev)
				goto yes;
		}
	}
	free(end - len);
	return 0;
yes:
	free(end - len);
	return 1;
}

/*
 * The files in a guest's disks directory belong to the uid it runs as now
 * (its slot may differ from the last run's). Only what a guest's uid made
 * is given: a regular file with one link owned by a guest uid, looked at
 * through its own fd. Never a symlink's target, a hard link to another's
 * file, or a file of root's.
 */
void
own_dir(const char *dir, uid_t uid, const char *who)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	int		 fd;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if ((fd = open_at_checked(dirfd(d), de->d_name, O_RDONLY, 0,
		    (uid_t)-1)) == -1)
			continue;	/* not a file of anyone's: left alone */
		if (fstat(fd, &st) == 0 && st.st_uid != uid &&
		    st.st_uid >= GUEST_UID_BASE && st.st_uid < GUEST_UID_BASE + GUESTS_MAX &&
		    fchown(fd, uid, uid) == -1)
			log_warn("guest %s: %s/%s", who, dir, de->d_name);
		close(fd);
	}
	closedir(d);
}

/*
 * Where src is on this machine, into path. Returns 0 when the file is
 * there, 1 when st says what to do first (a download, or waiting for
 * someone else's), -1 on error (st says).
 */
static int
source_local(struct vm *v, const struct vm_ops *ops, const char *field,
    const struct guest_source *src, uint64_t max, char *path, size_t size,
    struct vm_step *st)
{
	char	*argv[8], shown[GUEST_SOURCE_MAX], maxs[24];
	int	 n = 0;

	switch (src->kind) {
	case SRC_HTTPS:
	case SRC_HTTP:
	case SRC_GS:
		if (fetch_cache_path(src, path, size) == -1)
			return fail(st, 0, "%s: no cache path", url_redact(src->uri, shown,
			    sizeof(shown)));
		if (ops->exists(path))
			return 0;
		if (fetch_busy(path)) {
			st->kind = STEP_WAIT;	/* another guest's download: E_WAKE */
			return 1;
		}
		snprintf(v->job_dest, sizeof(v->job_dest), "%s", path);
		snprintf(v->job_what, sizeof(v->job_what), "%s: %s", field,
		    url_redact(src->uri, shown, sizeof(shown)));
		v->job_tmp[0] = '\0';	/* nestbox-fetch renames it itself */
		/* the source on stdin, not in argv: /proc shows argv to all */
		argv[n++] = FETCH_BIN;
		if (max != 0) {
			snprintf(maxs, sizeof(maxs), "%llu", (unsigned long long)max);
			argv[n++] = "--max-size";
			argv[n++] = maxs;
		}
		argv[n++] = "-";
		argv[n++] = path;
		if (src->sha256[0] != '\0')
			argv[n++] = (char *)src->sha256;
		argv[n] = NULL;
		log_info("guest %s: downloading %s", v->g.name, shown);
		/* only gs:// needs the token: http(s) runs as a uid that can
		 * not reach the metadata server; both in the group of
		 * STATE_IMAGES (sticky: neither replaces the other's files) */
		if (spawn_step(st, JOB_FETCH, argv, src->kind == SRC_GS ? FETCH_UID :
		    FETCH_HTTP_UID) == -1)
			return -1;
		st->groups[0] = FETCH_UID;
		st->cred.groups = st->groups;
		st->cred.ngroups = 1;
		st->input = src->uri;
		return 1;
	case SRC_PD:
		if (ops->pd_find(src->ref, path, size) == -1)
			return fail(st, 1, "%s: no persistent disk with that device name "
			    "is attached", src->uri);
		if (ops->disk_is_l1(path))
			return fail(st, 0, "%s: %s is the L1's own disk (the state "
			    "partition is on it): not given to a guest", src->uri, path);
		if (ops->own(path, vm_uid(v), 0600) == -1)
			log_warn("guest %s: %s", v->g.name, path);
		return 0;
	case SRC_STATE:
		snprintf(path, size, "%s/%s", STATE_DIR, src->ref);
		if (!ops->exists(path))
			return fail(st, 1, "%s: no such file on the state partition (%s)",
			    src->uri, path);
		return 0;
	case SRC_NONE:
	default:
		path[0] = '\0';
		return 0;
	}
}

/*
 * The file QEMU opens for disk i: the source in place (pd:, state:), or a
 * file of the guest's own made from it with qemu-img: an overlay over the
 * source, or a copy of a downloaded image (a download is shared by every
 * guest and never written). 0: ready; 1: qemu-img to run; -1: error.
 */
static int
disk_file(struct vm *v, const struct vm_ops *ops, size_t i, const char *base,
    struct vm_step *st)
{
	const struct guest_disk *d = &v->g.disks[i];
	const char	*fmt = d->format == FMT_QCOW2 ? "qcow2" : "raw";
	char		 size[32], *argv[16], old[PATH_MAX];
	int		 n = 0, shared = d->src.kind == SRC_HTTPS ||
			    d->src.kind == SRC_HTTP || d->src.kind == SRC_GS;

	if (!d->overlay && !shared) {
		snprintf(v->disk[i], sizeof(v->disk[i]), "%s", base);
		return 0;
	}
	snprintf(v->disk[i], sizeof(v->disk[i]), "%s/" VM_DISKS "/disk%zu-%08lx.%s",
	    v->dir, i, src_key(&d->src), d->overlay ? "qcow2" : fmt);
	if (ops->exists(v->disk[i]))
		return 0;
	/* made before the disks directory was the guest's own: moved there */
	snprintf(old, sizeof(old), "%s/disk%zu-%08lx.%s", v->dir, i, src_key(&d->src),
	    d->overlay ? "qcow2" : fmt);
	if (ops->exists(old) && ops->rename(old, v->disk[i]) == 0) {
		snprintf(old, sizeof(old), "%s/" VM_DISKS, v->dir);
		ops->own_dir(old, vm_uid(v), v->g.name);	/* its uid's now */
		return 0;
	}
	snprintf(v->job_dest, sizeof(v->job_dest), "%s", v->disk[i]);
	snprintf(v->job_tmp, sizeof(v->job_tmp), "%s.part", v->disk[i]);
	ops->unlink(v->job_tmp);
	snprintf(size, sizeof(size), "%llu", (unsigned long long)d->size);
	argv[n++] = QEMU_IMG;
	if (d->overlay) {
		argv[n++] = "create";
		argv[n++] = "-q";
		argv[n++] = "-f";
		argv[n++] = "qcow2";
		argv[n++] = "-F";
		argv[n++] = (char *)fmt;
		argv[n++] = "-b";
		argv[n++] = (char *)base;
		argv[n++] = v->job_tmp;
		if (d->size != 0)
			argv[n++] = size;
	} else {
		/* a copy; a size grows it afterwards (next round) */
		argv[n++] = "convert";
		argv[n++] = "-q";
		argv[n++] = "-f";
		argv[n++] = (char *)fmt;
		argv[n++] = "-O";
		argv[n++] = (char *)fmt;
		argv[n++] = (char *)base;
		argv[n++] = v->job_tmp;
	}
	argv[n] = NULL;
	log_info("guest %s: making %s", v->g.name, v->disk[i]);
	return spawn_step(st, JOB_IMG, argv, vm_uid(v));
}

static int
write_seed(struct vm *v, const struct vm_ops *ops, struct vm_step *st)
{
	char		 meta[256];
	uint8_t		*iso;
	size_t		 len;
	int		 r;

	snprintf(v->seed, sizeof(v->seed), "%s/seed.iso", v->dir);
	/* instance-id changes with the declaration: cloud-init runs again */
	snprintf(meta, sizeof(meta), "instance-id: %s-%08lx\nlocal-hostname: %s\n",
	    v->g.name, fnv(v->g.decl, 2166136261u), v->g.name);
	if (seed_iso(v->g.user_data != NULL ? v->g.user_data : "",
	    v->g.meta_data != NULL ? v->g.meta_data : meta, NULL, &iso, &len) == -1)
		return fail(st, 0, "cloud-init: %s", strerror(errno));
	r = ops->write_file(v->seed, iso, len, 0644);
	free(iso);
	if (r == -1)
		return fail(st, 1, "%s: %s", v->seed, strerror(errno));
	return 0;
}

/*
 * The next step of v's preparation, into st: STEP_READY when every file is
 * in place, STEP_SPAWN (a job: v->job_dest, job_tmp, job_what say what it
 * makes), STEP_WAIT, STEP_FAIL. Returns 0 (ready), 1 (a step), -1 (failed).
 */
int
vm_prepare(struct vm *v, const struct vm_ops *ops, struct vm_step *st)
{
	char	 base[PATH_MAX], field[32], disks[PATH_MAX];
	size_t	 i;
	int	 r;

	st->kind = STEP_READY;
	st->log[0] = '\0';
	st->input = NULL;
	/* a slot's uid is used only when nothing of a former guest runs as it */
	if ((r = ops->uid_kill(vm_uid(v))) != 0)
		return fail(st, 1, "uid %u: %d processes of a former run were left "
		    "(killed)", (unsigned)vm_uid(v), r);
	/* DIR is PID 1's (its group the guest's, to reach its files); only
	 * DIR/disks is the guest's own */
	if (ops->mkdir_owned(v->dir, 0, vm_uid(v), 0750) == -1)
		return fail(st, 1, "%s: %s", v->dir, strerror(errno));
	snprintf(disks, sizeof(disks), "%s/" VM_DISKS, v->dir);
	if (ops->mkdir_owned(disks, vm_uid(v), vm_uid(v), 0700) == -1)
		return fail(st, 1, "%s: %s", disks, strerror(errno));
	ops->own_dir(disks, vm_uid(v), v->g.name);
	for (i = 0; i < v->g.ndisks; i++) {
		snprintf(field, sizeof(field), "disks[%zu]", i);
		if ((r = source_local(v, ops, field, &v->g.disks[i].src,
		    v->g.disks[i].max_size, base, sizeof(base), st)) != 0)
			return r;
		if ((r = disk_file(v, ops, i, base, st)) != 0)
			return r;
	}
	if ((r = source_local(v, ops, "kernel", &v->g.kernel, 0, v->kernel,
	    sizeof(v->kernel), st)) != 0 || (r = source_local(v, ops, "initrd",
	    &v->g.initrd, 0, v->initrd, sizeof(v->initrd), st)) != 0)
		return r;
	if (v->g.cloud_init && write_seed(v, ops, st) == -1)
		return -1;
	return 0;
}

/*
 * v goes: nothing of it stays for the next guest on its slot. Its uid's
 * processes are killed, its directories given back to root (a guest that
 * is declared again is given them anew by vm_prepare), its persistent
 * disks' nodes given back to root:disk.
 */
void
vm_release(struct vm *v, const struct vm_ops *ops)
{
	char	 path[PATH_MAX];
	size_t	 i;
	int	 n;

	if ((n = ops->uid_kill(vm_uid(v))) > 0)
		log_info("guest %s: %d processes of uid %u killed", v->g.name, n,
		    (unsigned)vm_uid(v));
	snprintf(path, sizeof(path), "%s/" VM_DISKS, v->dir);
	if (ops->exists(path) && ops->mkdir_owned(path, 0, 0, 0700) == -1)
		log_warn("guest %s: %s", v->g.name, path);
	if (ops->exists(v->dir) && ops->mkdir_owned(v->dir, 0, 0, 0700) == -1)
		log_warn("guest %s: %s", v->g.name, v->dir);
	if (ops->exists(v->run) && ops->mkdir_owned(v->run, 0, 0, 0700) == -1)
		log_warn("guest %s: %s", v->g.name, v->run);
	for (i = 0; i < v->g.ndisks; i++)
		if (v->g.disks[i].src.kind == SRC_PD &&
		    ops->pd_find(v->g.disks[i].src.ref, path, sizeof(path)) == 0 &&
		    !ops->disk_is_l1(path) && ops->own_dev(path, 0, DISK_GID, 0660) == -1)
			log_warn("guest %s: %s", v->g.name, path);
}

/*
 * The L2 guests at run time: one state machine per declared guest, one
 * QEMU per running guest, a plan for every change of nestbox-guests.
 *
 *   PENDING -> FETCHING -> STARTING -> RUNNING -> STOPPING -> STOPPED
 *                 |           |           |
 *                 v           v           v (exit, by policy)
 *               FAILED     BACKOFF <------+
 *
 * FETCHING runs one child at a time (nestbox-fetch, qemu-img), each
 * writing under a temporary name that is renamed when it succeeds, so a
 * file under its final name is always whole and a restart picks up where
 * the last attempt stopped. FAILED is for what retrying can not fix (a
 * sha256 mismatch, a command line QEMU can not take); anything else backs
 * off and tries again: 1 s, doubling to 60 s, back to 1 s after a run of
 * 10 s (supervise.c's rule, shared with the getty).
 *
 * Each QEMU runs as its own user (GUEST_UID_BASE + slot) in the kvm group,
 * which may open /dev/kvm and /dev/vhost-net; its tap is created
 * persistent and owned by that user; its files live in its own directory.
 * The serial console is a socket: PID 1 reads it, mirrors each line to the
 * L1's console as "[guest NAME] ...", and relays `nestbox console`.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/sysmacros.h>
#include <net/if.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <linux/if_tun.h>

#include <cjson/cJSON.h>

#include "guest/guest.h"

#define KVM_GID		78		/* group kvm, overlay/etc/group */
#define VM_RUN_DIR	"/run/nestbox/guests"
#define QEMU_IMG	"/usr/bin/qemu-img"
#define VM_STOP_MS	60000		/* powerdown to quit; GCE gives 90 s */
#define VM_STOP_PREEMPT	25000		/* Spot and preemptible VMs get 30 s */
#define VM_QUIT_MS	5000		/* quit to SIGKILL */
#define VM_CONNECT_MS	100
#define VM_CONNECT_MAX	30000		/* QMP not up by then: killed, backoff */
#define VM_LEASE_POLL	2000		/* ms between reads of dnsmasq's leases */
#define VM_LINE_MAX	512
#define VM_SAMPLE_MS	10000		/* the memory sample, into a run */
#define VM_BRIEF_MAX	6		/* guests detailed in nestbox/status */
#define VM_SUBS		4

_Static_assert(GUESTS_MAX == 64, "GUEST_UID_RANGE names 64 uids");

static const char *const state_names[] = {
	"pending", "fetching", "starting", "running", "stopping", "stopped",
	"failed", "backing off",
};
static const char *const op_names[] = { "keep", "start", "stop", "restart" };

const char *
vm_state_str(enum vm_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ?
	    state_names[s] : "?";
}

const char *
plan_op_str(enum plan_op op)
{
	return (unsigned)op < sizeof(op_names) / sizeof(op_names[0]) ? op_names[op] : "?";
}

static const struct guest *
want_find(const struct guest_set *want, const char *name)
{
	size_t	 i;

	for (i = 0; i < want->n; i++)
		if (strcmp(want->v[i].name, name) == 0)
			return &want->v[i];
	return NULL;
}

/*
 * The plan from what runs (have) to what is declared (want): removed guests
 * stop, changed ones (their declaration differs) restart, new ones start,
 * the rest are kept as they are. Stops come first, then restarts, then
 * starts, each in declaration order. Pure; returns the number of items
 * (at most max are written).
 */
size_t
vm_plan(const struct vm_have *have, size_t nhave, const struct guest_set *want,
    struct plan_item *out, size_t max)
{
	const struct guest *g;
	size_t		 i, j, n = 0;
	int		 pass;

#define EMIT(o, nm) do { if (n < max) { out[n].op = (o); out[n].name = (nm); } n++; } while (0)
	for (i = 0; i < nhave; i++)
		if (want_find(want, have[i].name) == NULL)
			EMIT(PLAN_STOP, have[i].name);
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < want->n; i++) {
			g = &want->v[i];
			for (j = 0; j < nhave; j++)
				if (strcmp(have[j].name, g->name) == 0)
					break;
			if (pass == 0 && j < nhave) {
				if (have[j].decl == NULL || g->decl == NULL ||
				    strcmp(have[j].decl, g->decl) != 0)
					EMIT(PLAN_RESTART, g->name);
				else
					EMIT(PLAN_KEEP, g->name);
			} else if (pass == 1 && j == nhave)
				EMIT(PLAN_START, g->name);
		}
	}
#undef EMIT
	return n;
}

/*
 * What follows a QEMU's exit: wanted_stop (a stop we asked for) always
 * ends in STOPPED; otherwise the policy decides. A clean exit (status 0:
 * the guest powered itself off) is not a failure.
 */
enum vm_state
vm_after_exit(enum restart_policy policy, int status, int wanted_stop)
{
	int	 clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;

	if (wanted_stop)
		return VM_STOPPED;
	switch (policy) {
	case RESTART_ALWAYS:
		return VM_BACKOFF;
	case RESTART_ON_FAILURE:
		return clean ? VM_STOPPED : VM_BACKOFF;
	case RESTART_NEVER:
	default:
		return clean ? VM_STOPPED : VM_FAILED;
	}
}

/*
 * The RSS of a QEMU beyond its guest's RAM: every mapping's Rss but that
 * of the guest RAM block, the largest mapping of at least guest_kib (QEMU
 * may round it up for huge pages). Pure: smaps is the text of the file.
 */
int
smaps_beyond_guest(const char *smaps, unsigned long guest_kib, unsigned long *kib)
{
	const char	*p, *e;
	unsigned long	 size = 0, rss, total = 0, ram_size = 0, ram_rss = 0;
	int		 maps = 0;

	for (p = smaps; p != NULL && *p != '\0'; p = e != NULL ? e + 1 : NULL) {
		e = strchr(p, '\n');
		if (sscanf(p, "Size: %lu kB", &rss) == 1) {
			size = rss;
			maps++;
		} else if (sscanf(p, "Rss: %lu kB", &rss) == 1) {
			total += rss;
			if (size >= guest_kib && size > ram_size) {
				ram_size = size;
				ram_rss = rss;
			}
		}
	}
	if (maps == 0) {
		errno = EINVAL;
		return -1;
	}
	*kib = total - ram_rss;
	return 0;
}

/* --- the run-time side ---------------------------------------------------- */

struct vm_sub {
	void	(*fn)(void *, const char *, size_t);
	void	 *arg;
};

enum job_kind { JOB_NONE, JOB_FETCH, JOB_IMG };

struct vm {
	struct guest	 g;		/* the declaration it runs */
	struct guest	 next;		/* a changed one, started after the stop */
	int		 has_next;
	int		 again;		/* start again once stopped */
	int		 free_later;	/* removed while a request was in flight */
	int		 slot;
	enum vm_state	 state;
	int		 want;		/* it should run */
	int		 removed;	/* freed once it has stopped */
	int		 transient;	/* the last error may go away: retry */
	struct child	 qemu;
	struct child	 job;
	enum job_kind	 job_kind;
	char		 job_tmp[PATH_MAX + 8], job_dest[PATH_MAX];
	char		 job_what[GUEST_SOURCE_MAX + 32];	/* "kernel: https://..." */
	struct qmp	 qmp;
	int		 qmp_up;
	struct event	 con;
	char		 line[VM_LINE_MAX];
	size_t		 linelen;
	struct vm_sub	 subs[VM_SUBS];
	struct timer	 timer;
	uint64_t	 since;		/* now_ms() of the last state change */
	uint64_t	 started;	/* of the last exec */
	uint64_t	 delay;		/* backoff */
	int		 stop_phase;	/* 0 powerdown, 1 quit, 2 kill */
	unsigned	 restarts;
	unsigned long	 sample_rss, sample_overhead;	/* KiB, 10 s into a run */
	char		 error[GUEST_ERR_MAX];
	char		 dir[128];	/* STATE_GUESTS/NAME */
	char		 run[88];	/* VM_RUN_DIR/NAME: its sockets fit sun_path */
	char		 disk[GUEST_DISKS_MAX][PATH_MAX];
	char		 kernel[PATH_MAX], initrd[PATH_MAX], seed[256];
	char		 tap[IFNAMSIZ];
	char		 ip[IP4_STRLEN];
	/* the guest attribute nestbox/guest-NAME */
	struct md_req	 ga;
	struct bucket	 ga_bucket;
	struct timer	 ga_timer;
	char		 ga_body[384], ga_sent[384];
};

static struct {
	struct vm	*v[GUESTS_MAX];
	char		*doc;		/* the declaration last applied */
	int		 have_doc;
	int		 net_up;
	int		 shutting;
	int		 hook_waiting;
	struct guest_errors errs;
	char		 doc_error[GUEST_ERR_MAX];
	struct timer	 lease_timer;
	struct shutdown_hook hook;
} vms;

static void	vm_advance(struct vm *);
static void	vm_sample(struct vm *);
static uint64_t	stop_deadline(void);
static void	vm_set(struct vm *, enum vm_state);
static void	vm_stop(struct vm *, uint64_t deadline);
static void	vm_free(struct vm *);
static void	ga_update(struct vm *);
static void	vms_gone(void);
static void	wake_waiters(const struct vm *);
static void	ga_done(struct md_req *, enum md_result, const struct md_reply *);
static void	ga_fire(struct timer *);

#define VM_OF(p, member) ((struct vm *)((char *)(p) - offsetof(struct vm, member)))

static struct vm *
vm_find(const char *name)
{
	size_t	 i;

	for (i = 0; i < GUESTS_MAX; i++)
		if (vms.v[i] != NULL && strcmp(vms.v[i]->g.name, name) == 0)
			return vms.v[i];
	return NULL;
}

static void
vm_error(struct vm *v, int transient, const char *fmt, ...) NB_PRINTF(3, 4);

static void
vm_error(struct vm *v, int transient, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(v->error, sizeof(v->error), fmt, ap);
	va_end(ap);
	v->transient = transient;
	log_warnx("guest %s: %s", v->g.name, v->error);
}

static uid_t
vm_uid(const struct vm *v)
{
	return (uid_t)(GUEST_UID_BASE + v->slot);
}

static void
vm_set(struct vm *v, enum vm_state s)
{
	if (v->state != s)
		log_info("guest %s: %s", v->g.name, vm_state_str(s));
	v->state = s;
	v->since = now_ms();
	status_changed();
	ga_update(v);
}

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
exists(const char *path)
{
	struct stat	 st;

	return stat(path, &st) == 0;
}

static int
mkdir_owned(const char *path, uid_t uid, mode_t mode)
{
	if (mkdir(path, mode) == -1 && errno != EEXIST)
		return -1;
	if (chown(path, uid, uid) == -1 || chmod(path, mode) == -1)
		return -1;
	return 0;
}

/* After an error (v->error): FAILED if retrying can not help, else BACKOFF. */
static void
vm_failed(struct vm *v)
{
	if (!v->transient) {
		vm_set(v, VM_FAILED);
		return;
	}
	v->delay = service_next_delay(v->delay, 0);
	vm_set(v, VM_BACKOFF);
	timer_set(&v->timer, v->delay);
}

/* --- FETCHING: sources into files --------------------------------------- */

static void
job_exited(struct child *c, int status)
{
	struct vm	*v = VM_OF(c, job);
	char		 why[64];
	enum job_kind	 kind = v->job_kind;

	v->job_kind = JOB_NONE;
	wake_waiters(v);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		if (v->job_tmp[0] != '\0' && rename(v->job_tmp, v->job_dest) == -1) {
			vm_error(v, 1, "%s: %s", v->job_dest, strerror(errno));
			unlink(v->job_tmp);
		}
		v->job_tmp[0] = '\0';
		vm_advance(v);
		return;
	}
	if (v->job_tmp[0] != '\0')
		unlink(v->job_tmp);
	v->job_tmp[0] = '\0';
	if (!v->want) {
		vm_advance(v);
		return;
	}
	if (kind == JOB_FETCH && WIFEXITED(status)) {
		switch (WEXITSTATUS(status)) {
		case FETCH_MISMATCH:
			vm_error(v, 0, "%s: sha256 mismatch: the download was refused",
			    v->job_what);
			break;
		case FETCH_NOSPACE:
			vm_error(v, 1, "%s: the state partition is full", v->job_what);
			break;
		default:
			vm_error(v, 1, "%s: the download failed (nestbox-fetch %s)",
			    v->job_what, exit_reason(status, why, sizeof(why)));
		}
	} else
		vm_error(v, 1, "qemu-img for %s: %s", v->job_dest,
		    exit_reason(status, why, sizeof(why)));
	vm_failed(v);
}

static int
job_spawn(struct vm *v, enum job_kind kind, char *const argv[], const struct cred *cred)
{
	pid_t	 pid;

	if ((pid = spawn_as(argv, NULL, cred)) == -1) {
		vm_error(v, 1, "fork: %s", strerror(errno));
		return -1;
	}
	v->job.pid = pid;
	v->job.exited = job_exited;
	v->job_kind = kind;
	child_watch(&v->job);
	return 0;
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

/* A job ended: the guests that waited for someone else's download go on. */
static void
wake_waiters(const struct vm *self)
{
	size_t	 i;
	struct vm *v;

	for (i = 0; i < GUESTS_MAX; i++)
		if ((v = vms.v[i]) != NULL && v != self && v->state == VM_FETCHING &&
		    v->job.pid == 0 && v->qemu.pid == 0)
			vm_advance(v);
}

/*
 * The disk at dev holds the state partition, or a file system mounted on
 * the L1 (GCE's boot disk is "persistent-disk-0": a guest must never get it).
 */
static int
disk_is_the_l1s(const char *dev)
{
	struct stat	 d, st;
	char		 path[128], *text, *line, *end;
	size_t		 len;
	unsigned	 maj, min;

	if (stat(dev, &d) == -1 || !S_ISBLK(d.st_mode))
		return 0;
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

/* Files in a guest's directory belong to the uid it runs as now (its slot
 * may differ from the last run's). */
static void
own_dir(struct vm *v)
{
	DIR		*d;
	struct dirent	*de;

	if ((d = opendir(v->dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' &&
		    fchownat(dirfd(d), de->d_name, vm_uid(v), vm_uid(v),
		    AT_SYMLINK_NOFOLLOW) == -1)
			log_warn("guest %s: %s/%s", v->g.name, v->dir, de->d_name);
	closedir(d);
}

/*
 * Where src is on this machine, into path. Returns 0 when the file is
 * there, 1 when a download has started, -1 on error (v->error says).
 */
static int
source_local(struct vm *v, const char *field, const struct guest_source *src, char *path,
    size_t size)
{
	static const struct cred fetcher = { FETCH_UID, FETCH_UID, NULL, 0 };
	char	*argv[5];

	switch (src->kind) {
	case SRC_HTTPS:
	case SRC_HTTP:
	case SRC_GS:
		if (fetch_cache_path(src, path, size) == -1) {
			vm_error(v, 0, "%s: no cache path", src->uri);
			return -1;
		}
		if (exists(path))
			return 0;
		if (fetch_busy(path))
			return 1;	/* another guest's download: job_exited() wakes us */
		snprintf(v->job_dest, sizeof(v->job_dest), "%s", path);
		snprintf(v->job_what, sizeof(v->job_what), "%s: %s", field, src->uri);
		v->job_tmp[0] = '\0';	/* nestbox-fetch renames it itself */
		argv[0] = FETCH_BIN;
		argv[1] = src->uri;
		argv[2] = path;
		argv[3] = src->sha256[0] != '\0' ? (char *)src->sha256 : NULL;
		argv[4] = NULL;
		log_info("guest %s: downloading %s", v->g.name, src->uri);
		return job_spawn(v, JOB_FETCH, argv, &fetcher) == -1 ? -1 : 1;
	case SRC_PD:
		if (pd_find("/sys/block", src->ref, path, size) == -1) {
			vm_error(v, 1, "%s: no persistent disk with that device name "
			    "is attached", src->uri);
			return -1;
		}
		if (disk_is_the_l1s(path)) {
			vm_error(v, 0, "%s: %s is the L1's own disk (the state partition "
			    "is on it): not given to a guest", src->uri, path);
			return -1;
		}
		if (chown(path, vm_uid(v), vm_uid(v)) == -1 || chmod(path, 0600) == -1)
			log_warn("guest %s: %s", v->g.name, path);
		return 0;
	case SRC_STATE:
		snprintf(path, size, "%s/%s", STATE_DIR, src->ref);
		if (!exists(path)) {
			vm_error(v, 1, "%s: no such file on the state partition (%s)",
			    src->uri, path);
			return -1;
		}
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
 * guest and never written). 0: ready; 1: qemu-img runs; -1: error.
 */
static int
disk_file(struct vm *v, size_t i, const char *base)
{
	const struct guest_disk *d = &v->g.disks[i];
	struct cred	 cred = { vm_uid(v), vm_uid(v), NULL, 0 };
	const char	*fmt = d->format == FMT_QCOW2 ? "qcow2" : "raw";
	char		 size[32], *argv[16];
	int		 n = 0, shared = d->src.kind == SRC_HTTPS ||
			    d->src.kind == SRC_HTTP || d->src.kind == SRC_GS;

	if (!d->overlay && !shared) {
		snprintf(v->disk[i], sizeof(v->disk[i]), "%s", base);
		return 0;
	}
	snprintf(v->disk[i], sizeof(v->disk[i]), "%s/disk%zu-%08lx.%s", v->dir, i,
	    src_key(&d->src), d->overlay ? "qcow2" : fmt);
	if (exists(v->disk[i]))
		return 0;
	snprintf(v->job_dest, sizeof(v->job_dest), "%s", v->disk[i]);
	snprintf(v->job_tmp, sizeof(v->job_tmp), "%s.part", v->disk[i]);
	unlink(v->job_tmp);
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
	return job_spawn(v, JOB_IMG, argv, &cred) == -1 ? -1 : 1;
}

static int
write_seed(struct vm *v)
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
	    v->g.meta_data != NULL ? v->g.meta_data : meta, NULL, &iso, &len) == -1) {
		vm_error(v, 0, "cloud-init: %s", strerror(errno));
		return -1;
	}
	r = write_file(v->seed, iso, len, 0644);
	free(iso);
	if (r == -1) {
		vm_error(v, 1, "%s: %s", v->seed, strerror(errno));
		return -1;
	}
	return 0;
}

/* 0: every file is in place; 1: a job runs; -1: an error. */
static int
vm_prepare(struct vm *v)
{
	char	 base[PATH_MAX], field[32];
	size_t	 i;
	int	 r;

	if (mkdir_owned(v->dir, vm_uid(v), 0700) == -1) {
		vm_error(v, 1, "%s: %s", v->dir, strerror(errno));
		return -1;
	}
	own_dir(v);
	for (i = 0; i < v->g.ndisks; i++) {
		snprintf(field, sizeof(field), "disks[%zu]", i);
		if ((r = source_local(v, field, &v->g.disks[i].src, base, sizeof(base))) != 0)
			return r;
		if ((r = disk_file(v, i, base)) != 0)
			return r;
	}
	if ((r = source_local(v, "kernel", &v->g.kernel, v->kernel, sizeof(v->kernel))) != 0 ||
	    (r = source_local(v, "initrd", &v->g.initrd, v->initrd, sizeof(v->initrd))) != 0)
		return r;
	if (v->g.cloud_init && write_seed(v) == -1)
		return -1;
	return 0;
}

/* --- STARTING: the tap, QEMU, its sockets -------------------------------- */

static int
tap_create(struct vm *v)
{
	struct ifreq	 ifr;
	struct nl_link	 br, tap;
	int		 fd;

	snprintf(v->tap, sizeof(v->tap), "nbtap%d", v->slot);
	if ((fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC)) == -1)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", v->tap);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) == -1 ||
	    ioctl(fd, TUNSETOWNER, (unsigned long)vm_uid(v)) == -1 ||
	    ioctl(fd, TUNSETPERSIST, 1UL) == -1) {
		close(fd);
		return -1;
	}
	close(fd);
	if (nl_link_get(NETCONF_BRIDGE, &br) == -1 || nl_link_get(v->tap, &tap) == -1)
		return -1;
	return nl_link_set(tap.index, 1, br.mtu, br.index);
}

static void
tap_delete(struct vm *v)
{
	struct ifreq	 ifr;
	int		 fd;

	if (v->tap[0] == '\0' || (fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC)) == -1)
		return;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", v->tap);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) == 0)
		ioctl(fd, TUNSETPERSIST, 0UL);
	close(fd);
	v->tap[0] = '\0';
}

/* The last line QEMU wrote to its log: why it did not start. */
static void
qemu_last_words(struct vm *v, char *buf, size_t size)
{
	char	 path[PATH_MAX], tail[1024], *p, *end;
	ssize_t	 n;
	int	 fd;
	off_t	 off;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "%s/qemu.log", v->dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return;
	off = lseek(fd, 0, SEEK_END);
	off = off > (off_t)sizeof(tail) - 1 ? off - (off_t)sizeof(tail) + 1 : 0;
	n = pread(fd, tail, sizeof(tail) - 1, off);
	close(fd);
	if (n <= 0)
		return;
	for (end = tail + n; end > tail && (end[-1] == '\n' || end[-1] == '\r'); end--)
		;
	*end = '\0';
	p = strrchr(tail, '\n');
	p = p != NULL ? p + 1 : tail;
	if (strlen(p) >= size)
		p[size - 1] = '\0';	/* the start of a long line is enough */
	memcpy(buf, p, strlen(p) + 1);
}

static void	qemu_exited(struct child *, int);
static void	con_read(struct event *, uint32_t);

static void
qmp_msg(struct qmp *q, const struct qmp_msg *m)
{
	struct vm	*v = q->arg;

	if (m->kind == QMP_EVENT && (strcmp(m->event, "SHUTDOWN") == 0 ||
	    strcmp(m->event, "POWERDOWN") == 0 || strcmp(m->event, "RESET") == 0))
		log_info("guest %s: %s%s", v->g.name, m->event,
		    m->kind == QMP_EVENT && strcmp(m->event, "SHUTDOWN") == 0 ?
		    (m->guest ? " (by the guest)" : " (by the host)") : "");
	else if (m->kind == QMP_ERROR)
		log_warnx("guest %s: QMP: %s", v->g.name, m->error);
}

static void
qmp_closed(struct qmp *q)
{
	struct vm	*v = q->arg;

	v->qmp_up = 0;
}

static int
con_open(struct vm *v)
{
	struct sockaddr_un	 sun;
	char			 path[128];
	int			 fd;

	snprintf(path, sizeof(path), "%s/console.sock", v->run);
	if (unix_addr(&sun, path) == -1)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	v->con.fd = fd;
	v->con.handler = con_read;
	v->con.arg = v;
	if (event_add(&v->con, EPOLLIN) == -1) {
		close(fd);
		v->con.fd = -1;
		return -1;
	}
	return 0;
}

static void
con_close(struct vm *v)
{
	size_t	 k;

	if (v->con.fd == -1)
		return;
	if (v->linelen > 0)
		con_read(&v->con, 0);	/* the last partial line */
	event_del(&v->con);
	close(v->con.fd);
	v->con.fd = -1;
	/* `nestbox console` clients: the console is gone (control.c) */
	for (k = 0; k < VM_SUBS; k++)
		if (v->subs[k].fn != NULL) {
			void (*fn)(void *, const char *, size_t) = v->subs[k].fn;

			v->subs[k].fn = NULL;
			fn(v->subs[k].arg, NULL, 0);
		}
}

static void
mirror_line(struct vm *v)
{
	char	 out[VM_LINE_MAX + GUEST_NAME_MAX + 16];
	size_t	 i, o;

	o = (size_t)snprintf(out, sizeof(out), "[guest %s] ", v->g.name);
	for (i = 0; i < v->linelen && o + 2 < sizeof(out); i++) {
		unsigned char c = (unsigned char)v->line[i];

		if (c == '\r')
			continue;
		out[o++] = c == '\t' || (c >= 0x20 && c != 0x7f) ? (char)c : '?';
	}
	out[o++] = '\n';
	if (write(log_fd(), out, o) == -1) {
		/* the console is gone; nothing to tell */
	}
	v->linelen = 0;
}

/* Console bytes: to `nestbox console` clients as they are, to the L1's
 * console a line at a time. events 0: flush what is buffered. */
static void
con_read(struct event *ev, uint32_t events)
{
	struct vm	*v = ev->arg;
	char		 buf[4096];
	ssize_t		 n, i;
	size_t		 k;

	if (events == 0) {
		mirror_line(v);
		return;
	}
	n = read(ev->fd, buf, sizeof(buf));
	if (n <= 0) {
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		con_close(v);
		return;
	}
	for (k = 0; k < VM_SUBS; k++)
		if (v->subs[k].fn != NULL)
			v->subs[k].fn(v->subs[k].arg, buf, (size_t)n);
	for (i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			mirror_line(v);
			continue;
		}
		v->line[v->linelen++] = buf[i];
		if (v->linelen == sizeof(v->line))
			mirror_line(v);
	}
}

static void
vm_launch(struct vm *v)
{
	static const gid_t	 groups[] = { KVM_GID };
	struct cred		 cred = { vm_uid(v), vm_uid(v), groups, 1 };
	struct qemu_env		 env;
	char			 log[PATH_MAX], qlog[PATH_MAX], buf[QEMU_BUF_MAX];
	char			*argv[QEMU_ARGV_MAX];
	size_t			 i;
	pid_t			 pid;
	int			 fd, fds[3];

	if ((mkdir(VM_RUN_DIR, 0755) == -1 && errno != EEXIST) ||
	    mkdir_owned(v->run, vm_uid(v), 0700) == -1) {
		vm_error(v, 1, "%s: %s", v->run, strerror(errno));
		goto backoff;
	}
	if (tap_create(v) == -1) {
		vm_error(v, 1, "tap %s on %s: %s", v->tap, NETCONF_BRIDGE, strerror(errno));
		goto backoff;
	}
	memset(&env, 0, sizeof(env));
	snprintf(log, sizeof(log), "%s/console.log", v->dir);
	env.run_dir = v->run;
	env.console_log = log;
	env.tap = v->tap;
	env.kvm = kvm_available();
	env.vhost = access("/dev/vhost-net", F_OK) == 0;
	env.direct_io = store_persistent();
	for (i = 0; i < v->g.ndisks; i++)
		env.disk[i] = v->disk[i];
	env.kernel = v->kernel[0] != '\0' ? v->kernel : NULL;
	env.initrd = v->initrd[0] != '\0' ? v->initrd : NULL;
	env.seed = v->g.cloud_init ? v->seed : NULL;
	if (v->g.accel == ACCEL_KVM && !env.kvm) {
		vm_error(v, 0, "accel: kvm, but /dev/kvm is not usable (%s)", kvm_status());
		vm_set(v, VM_FAILED);
		return;
	}
	if (qemu_argv(&v->g, &env, buf, sizeof(buf), argv, QEMU_ARGV_MAX) == -1) {
		vm_error(v, 0, "no QEMU command line: %s", strerror(errno));
		vm_set(v, VM_FAILED);
		return;
	}
	snprintf(qlog, sizeof(qlog), "%s/qemu.log", v->dir);
	if ((fd = open(qlog, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) == -1) {
		vm_error(v, 1, "%s: %s", qlog, strerror(errno));
		goto backoff;
	}
	fds[0] = -1;
	fds[1] = fds[2] = fd;
	unlink(log);		/* a fresh console log per run: logappend keeps one run */
	pid = spawn_as(argv, fds, &cred);
	close(fd);
	if (pid == -1) {
		vm_error(v, 1, "fork: %s", strerror(errno));
		goto backoff;
	}
	v->qemu.pid = pid;
	v->qemu.exited = qemu_exited;
	child_watch(&v->qemu);
	v->started = now_ms();
	v->sample_rss = v->sample_overhead = 0;
	v->error[0] = '\0';
	log_info("guest %s: QEMU started (pid %d, %s, %u vcpus, %llu MiB)", v->g.name,
	    (int)pid, qemu_uses_kvm(&v->g, &env) ? "kvm" : "tcg", v->g.vcpus,
	    (unsigned long long)(v->g.memory >> 20));
	vm_set(v, VM_STARTING);
	timer_set(&v->timer, VM_CONNECT_MS);
	return;
backoff:
	v->delay = service_next_delay(v->delay, 0);
	vm_set(v, VM_BACKOFF);
	timer_set(&v->timer, v->delay);
}

static void
qemu_connect(struct vm *v)
{
	char	 path[PATH_MAX];

	if (!v->qmp_up) {
		snprintf(path, sizeof(path), "%s/qmp.sock", v->run);
		v->qmp.on_msg = qmp_msg;
		v->qmp.on_close = qmp_closed;
		v->qmp.arg = v;
		if (qmp_open(&v->qmp, path) == 0)
			v->qmp_up = 1;
	}
	if (v->con.fd == -1)
		con_open(v);
	if (v->qmp_up && v->con.fd != -1) {
		vm_set(v, VM_RUNNING);
		timer_set(&v->timer, VM_SAMPLE_MS);	/* the memory sample */
		return;
	}
	if (now_ms() - v->started > VM_CONNECT_MAX) {
		vm_error(v, 1, "QMP did not come up in %d s: killing QEMU",
		    VM_CONNECT_MAX / 1000);
		kill(v->qemu.pid, SIGKILL);
		return;
	}
	timer_set(&v->timer, VM_CONNECT_MS);
}

static void
qemu_exited(struct child *c, int status)
{
	struct vm	*v = VM_OF(c, qemu);
	uint64_t	 ran = now_ms() - v->started, wait;
	enum vm_state	 next;
	char		 why[64], last[200];
	int		 wanted = !v->want || v->state == VM_STOPPING;

	if (v->qmp_up)
		qmp_close(&v->qmp);
	v->qmp_up = 0;
	con_close(v);
	timer_set(&v->timer, 0);
	exit_reason(status, why, sizeof(why));
	next = vm_after_exit(v->g.restart, status, wanted);
	if (!wanted) {
		qemu_last_words(v, last, sizeof(last));
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			log_info("guest %s: QEMU exited: the guest powered off", v->g.name);
		else
			vm_error(v, 1, "QEMU %s%s%s", why, last[0] != '\0' ? ": " : "", last);
	} else
		log_info("guest %s: QEMU %s", v->g.name, why);

	if (next == VM_BACKOFF && !vms.shutting) {
		v->restarts++;
		v->delay = service_next_delay(v->delay, ran);
		wait = ran < v->delay ? v->delay - ran : 0;
		log_info("guest %s: restart %u in %llu.%llu s (restart: %s)", v->g.name,
		    v->restarts, (unsigned long long)wait / 1000,
		    (unsigned long long)wait % 1000 / 100, restart_str(v->g.restart));
		vm_set(v, VM_BACKOFF);
		timer_set(&v->timer, wait > 0 ? wait : 1);
		return;
	}
	vm_set(v, next == VM_BACKOFF ? VM_STOPPED : next);
	if (next != VM_FAILED || wanted)
		tap_delete(v);
	vm_advance(v);
}

/* --- the machine ----------------------------------------------------------- */

/* Starts v afresh: wanted, no backoff, no old error. */
static void
vm_begin(struct vm *v)
{
	v->want = 1;
	v->delay = 0;
	v->error[0] = '\0';
	vm_set(v, VM_PENDING);
	vm_advance(v);
}

/*
 * Moves v on from where it is: to its next preparation step, to QEMU, or,
 * stopped, to its next declaration or to being freed.
 */
static void
vm_advance(struct vm *v)
{
	int	 r;

	if (v->qemu.pid != 0 || v->job.pid != 0)
		return;			/* their exits come back here */
	if (!v->want || vms.shutting) {
		if (!(vms.shutting && v->state == VM_FAILED))
			vm_set(v, VM_STOPPED);
		timer_set(&v->timer, 0);
		if ((v->again || v->has_next) && !vms.shutting) {
			/* a restart: with the changed declaration, if there is one */
			if (v->has_next) {
				guest_clear(&v->g);
				v->g = v->next;
				memset(&v->next, 0, sizeof(v->next));
				v->has_next = 0;
			}
			v->again = 0;
			vm_begin(v);
			return;
		}
		if (v->removed)
			vm_free(v);
		else if (vms.shutting)
			vms_gone();
		return;
	}
	if (v->state != VM_PENDING && v->state != VM_FETCHING)
		return;			/* a timer or an action moves it on */
	if (!vms.net_up)
		return;			/* vm_net_up() comes back */
	if (v->state != VM_FETCHING)
		vm_set(v, VM_FETCHING);
	if ((r = vm_prepare(v)) == 1)
		return;
	if (r == -1) {
		vm_failed(v);
		return;
	}
	vm_launch(v);
}

/* QEMU's memory, once per run: its RSS, and what it uses beyond guest RAM. */
static void
vm_sample(struct vm *v)
{
	char		 path[64], *text;
	size_t		 len;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)v->qemu.pid);
	if ((text = read_file(path, 64 * 1024, &len)) != NULL) {
		proc_status_kib(text, "VmRSS", &v->sample_rss);
		free(text);
	}
	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)v->qemu.pid);
	if ((text = read_file(path, 4 << 20, &len)) != NULL) {
		smaps_beyond_guest(text, (unsigned long)(v->g.memory >> 10),
		    &v->sample_overhead);
		free(text);
	}
	status_changed();
}

static void
vm_timer(struct timer *t)
{
	struct vm	*v = t->arg;

	if (v->free_later) {
		if (!v->ga.busy)
			vm_free(v);
		return;
	}
	switch (v->state) {
	case VM_STARTING:
		qemu_connect(v);
		break;
	case VM_RUNNING:
		vm_sample(v);
		break;
	case VM_BACKOFF:
		if (v->want && !vms.shutting) {
			vm_set(v, VM_PENDING);
			vm_advance(v);
		}
		break;
	case VM_STOPPING:
		if (v->qemu.pid == 0)
			break;
		if (v->stop_phase == 0 && v->qmp_up) {
			log_warnx("guest %s: did not power off in time: quit", v->g.name);
			qmp_command(&v->qmp, "quit");
			v->stop_phase = 1;
			timer_set(&v->timer, VM_QUIT_MS);
		} else {
			log_warnx("guest %s: killing QEMU", v->g.name);
			kill(v->qemu.pid, SIGKILL);
			v->stop_phase = 2;
		}
		break;
	default:
		break;
	}
}

/*
 * Stops v: QMP system_powerdown (the guest's ACPI power button), then quit
 * after deadline ms, then SIGKILL. Downloads are cut off (they resume).
 */
static void
vm_stop(struct vm *v, uint64_t deadline)
{
	v->want = 0;
	if (v->job.pid != 0)
		kill(v->job.pid, SIGTERM);
	if (v->qemu.pid == 0) {
		vm_advance(v);
		return;
	}
	if (v->state == VM_STOPPING)
		return;
	vm_set(v, VM_STOPPING);
	v->stop_phase = 0;
	if (v->qmp_up && qmp_command(&v->qmp, "system_powerdown") != -1) {
		log_info("guest %s: system_powerdown, waiting up to %llu s", v->g.name,
		    (unsigned long long)deadline / 1000);
		timer_set(&v->timer, deadline);
	} else {
		/* no QMP yet: QEMU quits on SIGTERM */
		kill(v->qemu.pid, SIGTERM);
		v->stop_phase = 1;
		timer_set(&v->timer, VM_QUIT_MS);
	}
}

static int
slot_free(void)
{
	int	 i;

	for (i = 0; i < GUESTS_MAX; i++)
		if (vms.v[i] == NULL)
			return i;
	return -1;
}

static struct vm *
vm_new(struct guest *g)
{
	struct vm	*v;
	int		 slot;

	if ((slot = slot_free()) == -1 || (v = calloc(1, sizeof(*v))) == NULL)
		return NULL;
	v->g = *g;
	memset(g, 0, sizeof(*g));
	v->slot = slot;
	v->want = 1;
	v->con.fd = -1;
	v->qmp.ev.fd = -1;
	v->state = VM_PENDING;
	v->since = now_ms();
	snprintf(v->dir, sizeof(v->dir), "%s/%s", STATE_GUESTS, v->g.name);
	snprintf(v->run, sizeof(v->run), "%s/%s", VM_RUN_DIR, v->g.name);
	v->ga_bucket.every = STATUS_GA_EVERY;
	v->ga_bucket.burst = STATUS_GA_BURST;
	if (timer_init(&v->timer, vm_timer, v) == -1) {
		guest_clear(&v->g);
		free(v);
		return NULL;
	}
	if (timer_init(&v->ga_timer, ga_fire, v) == -1)
		v->ga_timer.ev.fd = -1;
	v->ga.name = "guest attribute";
	snprintf(v->ga.path, sizeof(v->ga.path),
	    "instance/guest-attributes/nestbox/guest-%s", v->g.name);
	v->ga.put = v->ga_body;
	v->ga.max = 4096;
	v->ga.timeout = MD_TIMEOUT_MS;
	v->ga.once = 1;
	v->ga.done = ga_done;
	v->ga.arg = v;
	vms.v[slot] = v;
	log_info("guest %s: declared (%u vcpus, %llu MiB, %zu disks, restart %s)",
	    v->g.name, v->g.vcpus, (unsigned long long)(v->g.memory >> 20), v->g.ndisks,
	    restart_str(v->g.restart));
	return v;
}

static void
vm_free(struct vm *v)
{
	if (v->ga.busy) {
		v->free_later = 1;	/* ga_done() sets the timer that frees it */
		return;
	}
	log_info("guest %s: removed", v->g.name);
	tap_delete(v);
	vms.v[v->slot] = NULL;
	event_del(&v->timer.ev);
	close(v->timer.ev.fd);
	if (v->ga_timer.ev.fd != -1) {
		event_del(&v->ga_timer.ev);
		close(v->ga_timer.ev.fd);
	}
	guest_clear(&v->g);
	guest_clear(&v->next);
	free(v);
	status_changed();
}

/* --- leases, forwards, the plan ------------------------------------------- */

/* The guest's address: its static one, else dnsmasq's lease for its MAC. */
static void
vm_lookup_ip(struct vm *v, const char *leases)
{
	char	 mac[18], line[256];
	const char *p, *e;
	char	 m[18], ip[IP4_STRLEN];
	unsigned long exp;

	if (v->g.ip != 0) {
		ip4_str(v->g.ip, v->ip);
		return;
	}
	v->ip[0] = '\0';
	guest_mac_str(v->g.mac, mac);
	for (p = leases; p != NULL && *p != '\0'; p = e != NULL ? e + 1 : NULL) {
		e = strchr(p, '\n');
		snprintf(line, sizeof(line), "%.*s", (int)(e != NULL ? e - p :
		    (ptrdiff_t)strlen(p)), p);
		if (sscanf(line, "%lu %17s %15s", &exp, m, ip) == 3 &&
		    strcasecmp(m, mac) == 0)
			snprintf(v->ip, sizeof(v->ip), "%s", ip);
	}
}

/* Static leases and forwards from every declared guest, to dnsmasq and
 * the firewall; again when a guest's address changes. */
static void
apply_network(void)
{
	struct static_lease	 leases[GUESTS_MAX];
	struct forward		 fw[GUESTS_MAX * (GUEST_FORWARDS_MAX + 1)];
	char			 ips[GUESTS_MAX][IP4_STRLEN], macs[GUESTS_MAX][18];
	uint32_t		 gip;
	size_t			 i, k, nl = 0, nf = 0;
	struct vm		*v;

	for (i = 0; i < GUESTS_MAX; i++) {
		if ((v = vms.v[i]) == NULL || v->removed)
			continue;
		if (v->g.ip != 0) {	/* the others take what the range gives */
			guest_mac_str(v->g.mac, macs[nl]);
			leases[nl].mac = macs[nl];
			leases[nl].name = v->g.name;
			leases[nl].ip = ip4_str(v->g.ip, ips[nl]);
			nl++;
		}
		if (v->ip[0] == '\0')
			continue;	/* no address yet: forwards follow the lease */
		if (ip4_parse(v->ip, strlen(v->ip), &gip) == -1)
			gip = 0;	/* firewall_rules() refuses it */
		for (k = 0; k < v->g.nforwards; k++) {
			const struct guest_forward *f = &v->g.forwards[k];

			fw[nf].proto = f->proto;
			fw[nf].match_ip = f->alias_ip;	/* 0: eth0's */
			fw[nf].port = f->port;
			fw[nf].guest_ip = gip;
			fw[nf].guest_port = f->guest_port;
			nf++;
		}
		if (v->g.alias_ip != 0) {
			fw[nf].proto = FWD_ALL;
			fw[nf].match_ip = v->g.alias_ip;
			fw[nf].port = 0;
			fw[nf].guest_ip = gip;
			fw[nf].guest_port = 0;
			nf++;
		}
	}
	if (dnsmasq_leases(leases, nl) == -1)
		log_warn("guests: static leases");
	if (firewall_forwards(fw, nf) == -1)
		log_warn("guests: forwards");
}

static void
lease_poll(struct timer *t)
{
	char		*text;
	size_t		 i, len;
	int		 changed = 0, any = 0;
	char		 old[IP4_STRLEN];
	struct vm	*v;

	text = read_file(DNSMASQ_LEASES, 1 << 20, &len);
	for (i = 0; i < GUESTS_MAX; i++) {
		if ((v = vms.v[i]) == NULL)
			continue;
		any = 1;
		memcpy(old, v->ip, sizeof(old));
		vm_lookup_ip(v, text != NULL ? text : "");
		if (strcmp(old, v->ip) != 0) {
			changed = 1;
			if (v->ip[0] != '\0')
				log_info("guest %s: address %s", v->g.name, v->ip);
			ga_update(v);
		}
	}
	free(text);
	if (changed) {
		apply_network();
		status_changed();
	}
	if (any)
		timer_set(t, VM_LEASE_POLL);
}

static void
log_plan(const struct plan_item *p, size_t n)
{
	char	 buf[1024];
	struct text t;
	size_t	 i;

	text_init(&t, buf, sizeof(buf));
	for (i = 0; i < n; i++)
		text_add(&t, "%s%s %s", i ? ", " : "", plan_op_str(p[i].op), p[i].name);
	if (n == 0)
		text_add(&t, "no guests");
	log_info("guests: plan: %s%s", buf, text_done(&t) == -1 ? " ..." : "");
}

/* The declaration text (NULL: unset) becomes the plan, applied now. */
static void
reconcile(const char *doc, int force)
{
	struct guest_set	 want;
	struct vm_have		 have[GUESTS_MAX];
	struct plan_item	 plan[2 * GUESTS_MAX];
	const struct netconf	*nc;
	struct guest		*g;
	struct vm		*v;
	size_t			 i, n, nhave = 0;

	if (!force && vms.have_doc && ((doc == NULL && vms.doc == NULL) ||
	    (doc != NULL && vms.doc != NULL && strcmp(doc, vms.doc) == 0)))
		return;
	free(vms.doc);
	vms.doc = doc != NULL ? strdup(doc) : NULL;
	vms.have_doc = 1;
	guest_errors_free(&vms.errs);
	vms.doc_error[0] = '\0';
	if (guests_parse(doc != NULL ? doc : "", doc != NULL ? strlen(doc) : 0, &want,
	    &vms.errs) == -1) {
		if (vms.errs.document && vms.errs.n > 0) {
			/* a broken document changes nothing: the guests keep running */
			snprintf(vms.doc_error, sizeof(vms.doc_error), "%s", vms.errs.v[0]);
			log_warnx("%s (the guests are left as they are)", vms.doc_error);
		} else
			log_warn("guests");
		guests_free(&want);
		status_changed();
		return;
	}
	if ((nc = l2net_conf()) != NULL)
		guests_check_net(&want, nc, &vms.errs);
	for (i = 0; i < vms.errs.n; i++)
		log_warnx("%s (skipped)", vms.errs.v[i]);

	for (i = 0; i < GUESTS_MAX; i++)
		if ((v = vms.v[i]) != NULL && !v->removed) {
			have[nhave].name = v->g.name;
			/* what it will run: a pending restart's declaration */
			have[nhave].decl = v->has_next ? v->next.decl : v->g.decl;
			if (force && v->state == VM_FAILED)
				have[nhave].decl = NULL;	/* reload retries it */
			nhave++;
		}
	n = vm_plan(have, nhave, &want, plan, sizeof(plan) / sizeof(plan[0]));
	log_plan(plan, n);
	for (i = 0; i < n; i++) {
		v = vm_find(plan[i].name);
		g = (struct guest *)want_find(&want, plan[i].name);
		switch (plan[i].op) {
		case PLAN_STOP:
			v->removed = 1;
			vm_stop(v, stop_deadline());
			break;
		case PLAN_RESTART:
			guest_clear(&v->next);
			v->next = *g;
			memset(g, 0, sizeof(*g));
			v->has_next = 1;
			v->restarts = 0;
			vm_stop(v, stop_deadline());
			break;
		case PLAN_START:
			if (v != NULL && v->removed) {
				/* removed, still stopping, declared again */
				v->removed = 0;
				guest_clear(&v->next);
				v->next = *g;
				memset(g, 0, sizeof(*g));
				v->has_next = 1;
				break;
			}
			if ((v = vm_new(g)) == NULL) {
				log_warn("guest %s", plan[i].name);
				break;
			}
			vm_advance(v);
			break;
		case PLAN_KEEP:
			break;
		}
	}
	guests_free(&want);
	apply_network();
	lease_poll(&vms.lease_timer);
	status_changed();
}

static void
on_attributes(const struct attrs *instance)
{
	(void)instance;
	reconcile(metadata_attr("nestbox-guests"), 0);
}

static void
on_net(void)
{
	size_t	 i;

	vms.net_up = 1;
	for (i = 0; i < GUESTS_MAX; i++)
		if (vms.v[i] != NULL && vms.v[i]->state == VM_PENDING)
			vm_advance(vms.v[i]);
}

/* --- shutdown -------------------------------------------------------------- */

static uint64_t
stop_deadline(void)
{
	const struct md_stats	*s = metadata_stats();
	const char		*t = metadata_attr("nestbox-stop-timeout");
	char			*end;
	long			 sec;

	if (t != NULL) {
		sec = strtol(t, &end, 10);
		if (end != t && *end == '\0' && sec >= 1 && sec <= 80)
			return (uint64_t)sec * 1000;
		log_warnx("nestbox-stop-timeout: \"%.20s\" is not 1 to 80 seconds", t);
	}
	return s != NULL && s->preemptible == 1 ? VM_STOP_PREEMPT : VM_STOP_MS;
}

static int
vms_running(void)
{
	size_t	 i;

	for (i = 0; i < GUESTS_MAX; i++)
		if (vms.v[i] != NULL && (vms.v[i]->qemu.pid != 0 || vms.v[i]->job.pid != 0))
			return 1;
	return 0;
}

static int
hook_start(struct shutdown_hook *h, enum shutdown_action a)
{
	uint64_t	 deadline = stop_deadline();
	size_t		 i;

	(void)a;
	vms.shutting = 1;
	if (!vms_running())
		return 0;
	vms.hook_waiting = 1;
	log_info("guests: powering down, up to %llu s", (unsigned long long)deadline / 1000);
	h->timeout = deadline + VM_QUIT_MS + 1000;
	for (i = 0; i < GUESTS_MAX; i++)
		if (vms.v[i] != NULL)
			vm_stop(vms.v[i], deadline);
	return 1;
}

/* Every guest's exit while shutting down comes here through vm_advance. */
static void
vms_gone(void)
{
	if (vms.hook_waiting && !vms_running()) {
		vms.hook_waiting = 0;
		log_info("guests: all stopped");
		shutdown_hook_done(&vms.hook);
	}
}

/* --- status, guest attributes ---------------------------------------------- */

static cJSON *
vm_json(const struct vm *v)
{
	cJSON		*o = cJSON_CreateObject();
	char		 mac[18], path[160];

	if (o == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "state", vm_state_str(v->state));
	cJSON_AddNumberToObject(o, "since_s", (double)((now_ms() - v->since) / 1000));
	if (v->qemu.pid != 0)
		cJSON_AddNumberToObject(o, "pid", v->qemu.pid);
	else
		cJSON_AddNullToObject(o, "pid");
	cJSON_AddNumberToObject(o, "vcpus", v->g.vcpus);
	cJSON_AddNumberToObject(o, "memory_mib", (double)(v->g.memory >> 20));
	cJSON_AddStringToObject(o, "accel", v->g.accel == ACCEL_KVM ? "kvm" :
	    v->g.accel == ACCEL_TCG ? "tcg" : kvm_available() ? "kvm" : "tcg");
	cJSON_AddStringToObject(o, "mac", guest_mac_str(v->g.mac, mac));
	if (v->ip[0] != '\0')
		cJSON_AddStringToObject(o, "ip", v->ip);
	else
		cJSON_AddNullToObject(o, "ip");
	cJSON_AddStringToObject(o, "tap", v->tap);
	cJSON_AddStringToObject(o, "restart", restart_str(v->g.restart));
	cJSON_AddNumberToObject(o, "restarts", v->restarts);
	if (v->error[0] != '\0')
		cJSON_AddStringToObject(o, "last_error", v->error);
	else
		cJSON_AddNullToObject(o, "last_error");
	/* vm_sample()'s, not /proc read again at every rewrite of the file */
	if (v->sample_rss != 0) {
		cJSON_AddNumberToObject(o, "qemu_rss_kib", (double)v->sample_rss);
		cJSON_AddNumberToObject(o, "qemu_overhead_kib", (double)v->sample_overhead);
	}
	snprintf(path, sizeof(path), "%s/console.log", v->dir);
	cJSON_AddStringToObject(o, "console_log", path);
	return o;
}

/*
 * brief (the nestbox/status guest attribute, at most 4 KiB): the counts by
 * state always, each guest's state and memory sample only for a few; the
 * nestbox/guest-NAME attributes have every guest's.
 */
static void
render(cJSON *obj, int brief)
{
	cJSON	*list, *errs, *states;
	size_t	 i, n = 0;
	double	 count[sizeof(state_names) / sizeof(state_names[0])] = { 0 };

	cJSON_AddStringToObject(obj, "declaration", !vms.have_doc ? "not read yet" :
	    vms.doc == NULL ? "unset" : vms.doc_error[0] != '\0' ? "rejected" : "applied");
	if (vms.doc_error[0] != '\0')
		cJSON_AddStringToObject(obj, "error", vms.doc_error);
	if (brief)
		cJSON_AddNumberToObject(obj, "invalid", vms.doc_error[0] != '\0' ? 0 :
		    (double)vms.errs.n);
	else if ((errs = cJSON_AddArrayToObject(obj, "invalid")) != NULL)
		for (i = 0; i < vms.errs.n && vms.doc_error[0] == '\0'; i++)
			cJSON_AddItemToArray(errs, cJSON_CreateString(vms.errs.v[i]));
	for (i = 0; i < GUESTS_MAX; i++)
		if (vms.v[i] != NULL) {
			n++;
			count[vms.v[i]->state]++;
		}
	cJSON_AddNumberToObject(obj, "count", (double)n);
	if ((states = cJSON_AddObjectToObject(obj, "states")) != NULL)
		for (i = 0; i < sizeof(count) / sizeof(count[0]); i++)
			if (count[i] > 0)
				cJSON_AddNumberToObject(states, state_names[i], count[i]);
	if (brief && n > VM_BRIEF_MAX)
		return;
	if ((list = cJSON_AddObjectToObject(obj, "guests")) == NULL)
		return;
	for (i = 0; i < GUESTS_MAX; i++) {
		struct vm *v = vms.v[i];
		cJSON	*o;

		if (v == NULL)
			continue;
		if (brief) {
			/* what changes rarely: the state, the memory sample */
			if ((o = cJSON_AddObjectToObject(list, v->g.name)) == NULL)
				continue;
			cJSON_AddStringToObject(o, "state", vm_state_str(v->state));
			cJSON_AddNumberToObject(o, "restarts", v->restarts);
			if (v->sample_rss != 0) {
				cJSON_AddNumberToObject(o, "qemu_rss_kib", (double)v->sample_rss);
				cJSON_AddNumberToObject(o, "qemu_overhead_kib",
				    (double)v->sample_overhead);
			}
			continue;
		}
		if ((o = vm_json(v)) != NULL)
			cJSON_AddItemToObject(list, v->g.name, o);
	}
}

static struct status_section section = { "guests", render, NULL };

static int
ga_enabled(void)
{
	const char	*v = metadata_attr("enable-guest-attributes");

	return v != NULL && strcasecmp(v, "TRUE") == 0;
}

static void ga_send(struct vm *);

static void
ga_done(struct md_req *r, enum md_result res, const struct md_reply *rep)
{
	struct vm	*v = r->arg;

	(void)rep;
	if (res == MD_OK)
		memcpy(v->ga_sent, v->ga_body, sizeof(v->ga_sent));
	if (v->free_later) {
		timer_set(&v->timer, 1);	/* vm_timer frees it, after this returns */
		return;
	}
	if (strcmp(v->ga_sent, v->ga_body) != 0 && res == MD_OK)
		ga_send(v);
}

static void
ga_fire(struct timer *t)
{
	ga_send(t->arg);
}

static void
ga_send(struct vm *v)
{
	uint64_t	 wait;

	if (v->ga.busy || strcmp(v->ga_sent, v->ga_body) == 0)
		return;
	if ((wait = bucket_take(&v->ga_bucket, now_ms())) != 0) {
		if (v->ga_timer.ev.fd != -1)
			timer_set(&v->ga_timer, wait);
		return;
	}
	if (md_request(&v->ga) == -1)
		log_warn("guest %s: guest attribute", v->g.name);
}

/* nestbox/guest-NAME: {"state":..,"ip":..,"restarts":..,"error":..} */
static void
ga_update(struct vm *v)
{
	cJSON	*o;
	char	*s;

	if (!ga_enabled() || (o = cJSON_CreateObject()) == NULL)
		return;
	cJSON_AddStringToObject(o, "state", vm_state_str(v->state));
	if (v->ip[0] != '\0')
		cJSON_AddStringToObject(o, "ip", v->ip);
	else
		cJSON_AddNullToObject(o, "ip");
	cJSON_AddNumberToObject(o, "restarts", v->restarts);
	if (v->error[0] != '\0')
		cJSON_AddStringToObject(o, "error", v->error);
	else
		cJSON_AddNullToObject(o, "error");
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (s == NULL)
		return;
	snprintf(v->ga_body, sizeof(v->ga_body), "%s", s);
	free(s);
	ga_send(v);
}

/* --- the control socket's operations --------------------------------------- */

static char *
ctl_status(const char *name)
{
	cJSON		*o;
	struct vm	*v;
	char		*s;

	if (name == NULL) {
		if ((o = cJSON_CreateObject()) == NULL)
			return NULL;
		render(o, 0);
	} else {
		if ((v = vm_find(name)) == NULL) {
			errno = ENOENT;
			return NULL;
		}
		if ((o = vm_json(v)) == NULL)
			return NULL;
		cJSON_AddStringToObject(o, "name", v->g.name);
	}
	s = cJSON_Print(o);
	cJSON_Delete(o);
	return s;
}

static char *
ctl_list(void)
{
	struct text	 t;
	char		*buf;
	size_t		 i, size = 128 + GUESTS_MAX * 160;

	if ((buf = malloc(size)) == NULL)
		return NULL;
	text_init(&t, buf, size);
	text_add(&t, "%-20s %-12s %-15s %8s  %s\n", "NAME", "STATE", "IP", "RESTARTS",
	    "LAST ERROR");
	for (i = 0; i < GUESTS_MAX; i++) {
		const struct vm *v = vms.v[i];

		if (v == NULL)
			continue;
		text_add(&t, "%-20s %-12s %-15s %8u  %.60s\n", v->g.name,
		    vm_state_str(v->state), v->ip[0] ? v->ip : "-", v->restarts,
		    v->error[0] ? v->error : "-");
	}
	text_done(&t);
	return buf;
}

static int
ctl_action(const char *name, const char *verb)
{
	struct vm	*v;

	if ((v = vm_find(name)) == NULL || v->removed) {
		errno = ENOENT;
		return -1;
	}
	if (strcmp(verb, "stop") == 0) {
		log_info("guest %s: stop requested", name);
		vm_stop(v, stop_deadline());
	} else if (strcmp(verb, "start") == 0 || strcmp(verb, "restart") == 0) {
		log_info("guest %s: %s requested", name, verb);
		if (v->qemu.pid != 0 && strcmp(verb, "start") == 0)
			return 0;	/* already running */
		v->delay = 0;
		if (v->qemu.pid != 0 || v->job.pid != 0) {
			v->again = 1;	/* started again once stopped */
			vm_stop(v, stop_deadline());
			return 0;
		}
		timer_set(&v->timer, 0);
		vm_begin(v);
	} else {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

static int
ctl_log_path(const char *name, char *buf, size_t size)
{
	struct vm	*v;

	if ((v = vm_find(name)) == NULL) {
		errno = ENOENT;
		return -1;
	}
	snprintf(buf, size, "%s/console.log", v->dir);
	return 0;
}

static int
ctl_attach(const char *name, void (*fn)(void *, const char *, size_t), void *arg)
{
	struct vm	*v;
	size_t		 k;

	if ((v = vm_find(name)) == NULL) {
		errno = ENOENT;
		return -1;
	}
	for (k = 0; k < VM_SUBS; k++)
		if (v->subs[k].fn == NULL) {
			v->subs[k].fn = fn;
			v->subs[k].arg = arg;
			return 0;
		}
	errno = EBUSY;
	return -1;
}

static void
ctl_detach(const char *name, void *arg)
{
	struct vm	*v;
	size_t		 k;

	if ((v = vm_find(name)) == NULL)
		return;
	for (k = 0; k < VM_SUBS; k++)
		if (v->subs[k].arg == arg)
			v->subs[k].fn = NULL;
}

static int
ctl_write(const char *name, const void *buf, size_t len)
{
	struct vm	*v;

	if ((v = vm_find(name)) == NULL) {
		errno = ENOENT;
		return -1;
	}
	if (v->con.fd == -1) {
		errno = ENOTCONN;
		return -1;
	}
	return write(v->con.fd, buf, len) == (ssize_t)len ? 0 : -1;
}

static void
ctl_reload(void)
{
	log_info("guests: reload requested");
	reconcile(metadata_attr("nestbox-guests"), 1);
}

const struct control_ops vm_control_ops = {
	ctl_status, ctl_list, ctl_action, ctl_log_path, ctl_attach, ctl_detach,
	ctl_write, ctl_reload,
};

/* --- setup ------------------------------------------------------------------ */

static void
devices_for_guests(void)
{
	static const char *const devs[] = { "/dev/kvm", "/dev/vhost-net" };
	size_t	 i;

	if (mkdir(NET_RUN_DIR, 0755) == -1 && errno != EEXIST)
		log_warn("guests: %s", NET_RUN_DIR);
	/* every QEMU opens its own tap by name, as its own user */
	if (chmod("/dev/net/tun", 0666) == -1)
		log_warn("guests: /dev/net/tun");
	for (i = 0; i < sizeof(devs) / sizeof(devs[0]); i++)
		if (access(devs[i], F_OK) == 0 &&
		    (chown(devs[i], 0, KVM_GID) == -1 || chmod(devs[i], 0660) == -1))
			log_warn("guests: %s", devs[i]);
	if (mkdir(VM_RUN_DIR, 0755) == -1 && errno != EEXIST)
		log_warn("guests: %s", VM_RUN_DIR);
	if (mkdir(STATE_IMAGES, 0755) == -1 && errno != EEXIST)
		log_warn("guests: %s", STATE_IMAGES);
	if (chown(STATE_IMAGES, FETCH_UID, FETCH_UID) == -1)
		log_warn("guests: %s", STATE_IMAGES);
	if (mkdir(STATE_GUESTS, 0755) == -1 && errno != EEXIST)
		log_warn("guests: %s", STATE_GUESTS);
}

int
vm_init(void)
{
	devices_for_guests();
	if (timer_init(&vms.lease_timer, lease_poll, NULL) == -1)
		return -1;
	vms.hook.name = "guests";
	vms.hook.start = hook_start;
	shutdown_hook_add(&vms.hook);
	status_section_add(&section);
	metadata_on_attributes(on_attributes);
	return net_on_ready(on_net);
}

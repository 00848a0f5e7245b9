/*
 * guest/: the L2 guests: the nestbox-guests declaration, QEMU's command
 * line and QMP, sources made into files, and the guests at run time.
 *
 * Unless a comment says otherwise, functions return 0 on success and -1
 * with errno set on failure.
 */
#ifndef NESTBOX_GUEST_H
#define NESTBOX_GUEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <netinet/in.h>

#include "core/core.h"
#include "md/md.h"
#include "sys/sys.h"
#include "net/net.h"
#include "ctl/ctl.h"

/*
 * guest.c: the nestbox-guests declaration (docs/guests.md), parsed and
 * checked without side effects. An invalid guest is reported ("guest NAME:
 * FIELD: reason") and left out; the valid ones are kept. A document-level
 * error ("nestbox-guests: ...") rejects the whole document.
 */
#define GUESTS_VERSION		1
#define GUESTS_DOC_MAX		(256 * 1024)
#define GUESTS_MAX		64
#define GUEST_VCPUS_MAX		64
#define GUEST_MEM_MIN		(64ULL << 20)
#define GUEST_MEM_MAX		(1ULL << 40)
#define GUEST_DISKS_MAX		8
#define GUEST_DISK_SIZE_MAX	(64ULL << 40)
#define GUEST_FORWARDS_MAX	32
#define GUEST_QEMU_ARGS_MAX	32
#define GUEST_QEMU_ARG_LEN	256
#define GUEST_SOURCE_MAX	2048
#define GUEST_CMDLINE_MAX	4096
#define GUEST_USERDATA_MAX	(64 * 1024)
#define GUEST_METADATA_MAX	(16 * 1024)
#define GUEST_ERR_MAX		320
enum source_kind { SRC_NONE, SRC_HTTPS, SRC_HTTP, SRC_GS, SRC_PD, SRC_STATE };
enum disk_format { FMT_RAW, FMT_QCOW2 };
enum restart_policy { RESTART_ALWAYS, RESTART_ON_FAILURE, RESTART_NEVER };
enum accel_mode { ACCEL_AUTO, ACCEL_KVM, ACCEL_TCG };
struct guest_source {
	enum source_kind kind;		/* SRC_NONE: not given */
	char		*uri;		/* as declared, heap */
	const char	*ref;		/* into uri, past "gs://", "pd:", "state:" */
	char		 sha256[65];	/* lower case; "" if not given */
};
struct guest_disk {
	struct guest_source src;
	enum disk_format format;
	int		 overlay;	/* a qcow2 overlay on the state partition */
	uint64_t	 size;		/* bytes; 0: as it is */
	uint64_t	 max_size;	/* a download's bound, bytes; 0: free space only */
};
struct guest_forward {
	enum fwd_proto	 proto;		/* FWD_TCP or FWD_UDP */
	uint32_t	 alias_ip;	/* host order; 0: the L1's primary address */
	uint16_t	 port, guest_port;
};
struct guest {
	char		 name[GUEST_NAME_MAX];
	unsigned	 index;		/* 1-based, in the document */
	unsigned	 vcpus;
	uint64_t	 memory;	/* bytes, a whole number of MiB */
	struct guest_disk disks[GUEST_DISKS_MAX];
	size_t		 ndisks;
	struct guest_source kernel, initrd;
	char		*cmdline;	/* NULL: none */
	uint8_t		 mac[6];
	int		 mac_derived;	/* from the name, not declared */
	uint32_t	 ip;		/* host order; 0: by DHCP */
	uint32_t	 alias_ip;	/* host order; 0: none */
	struct guest_forward forwards[GUEST_FORWARDS_MAX];
	size_t		 nforwards;
	enum restart_policy restart;
	enum accel_mode	 accel;
	int		 cloud_init;
	char		*user_data, *meta_data;	/* NULL: not given */
	char		*qemu_args[GUEST_QEMU_ARGS_MAX];
	size_t		 nqemu_args;
	char		*decl;		/* the guest's JSON, compact: equal means unchanged */
};
struct guest_set {
	struct guest	*v;
	size_t		 n;
};
struct guest_errors {
	char		**v;		/* messages, heap */
	size_t		 n;
	size_t		 invalid;	/* guests left out */
	int		 document;	/* the whole document was rejected */
};
int	 guests_parse(const char *json, size_t len, struct guest_set *,
	    struct guest_errors *);	/* -1: EINVAL (document) or ENOMEM */

/*
 * verdict.c: the one path from a declaration's text to the guests that would
 * run, PID 1's (vm.c) and `nestbox check`'s (tools/check.c) alike: parsed,
 * then checked against what the L1 has (struct guest_env): the L2 network
 * and the alias IP ranges, each when known.
 */
#define GUEST_ALIASES_MAX	16	/* md/metadata.c keeps as many */
struct guest_env {
	int		 have_net;	/* 0: the L2 network is not up yet */
	struct netconf	 net;
	int		 have_aliases;	/* 0: not known; alias IPs are not checked */
	size_t		 naliases;
	uint32_t	 alias[GUEST_ALIASES_MAX];	/* the ranges' networks, host order */
	int		 alias_prefix[GUEST_ALIASES_MAX];
	uint32_t	 l1;		/* the L1's own address, host order; 0: not known */
};
int	 guests_verdict(const char *json, size_t len, const struct guest_env *,
	    struct guest_set *, struct guest_errors *);	/* as guests_parse */
int	 guests_check_net(struct guest_set *, const struct guest_env *,
	    struct guest_errors *);	/* drops guests that do not fit; count */
int	 guest_env_aliases(struct guest_env *, const char *const cidrs[], size_t n);
	    /* "a.b.c.d/n" or "a.b.c.d"; EINVAL (the env unchanged), E2BIG */
int	 guest_env_equal(const struct guest_env *, const struct guest_env *);
void	 guests_free(struct guest_set *);
void	 guest_clear(struct guest *);		/* frees its parts, zeroes it */
void	 guest_errors_free(struct guest_errors *);
const char *guest_mac_str(const uint8_t mac[6], char buf[18]);
const char *restart_str(enum restart_policy);

/*
 * qemu.c: a guest's QEMU command line, built without side effects into the
 * caller's buffers. The paths come from struct qemu_env: the supervisor
 * resolves sources (downloads, overlays, persistent disks) before it.
 */
#define QEMU_BIN		"/usr/bin/qemu-system-x86_64"
#define QEMU_IMG		"/usr/bin/qemu-img"
#define QEMU_FIRMWARE		"/usr/share/qemu"
#define QEMU_ARGV_MAX		160
#define QEMU_BUF_MAX		(16 * 1024)
struct qemu_env {
	const char	*bin;		/* NULL: QEMU_BIN */
	const char	*run_dir;	/* the guest's sockets: qmp.sock, console.sock */
	const char	*console_log;	/* the serial console's log file */
	const char	*firmware;	/* NULL: QEMU_FIRMWARE */
	const char	*tap;		/* the tap on virbr0 */
	int		 kvm;		/* /dev/kvm is usable */
	int		 vhost;		/* /dev/vhost-net exists */
	int		 direct_io;	/* the state partition takes O_DIRECT */
	const char	*disk[GUEST_DISKS_MAX];	/* per disk: the file QEMU opens */
	const char	*kernel, *initrd;	/* direct boot, when the guest has it */
	const char	*seed;		/* the NoCloud seed image; NULL: none */
};
int	 qemu_argv(const struct guest *, const struct qemu_env *, char *buf,
	    size_t size, char **argv, size_t maxargv);	/* argc; ENOSPC, EINVAL */
int	 qemu_uses_kvm(const struct guest *, const struct qemu_env *);

/*
 * qmp.c: QEMU's machine protocol. qmp_parse (guest-internal.h) reads one
 * reply line (pure, fuzzed); struct qmp is a client in the event loop: it connects to a
 * guest's qmp.sock, negotiates capabilities and sends commands, reporting
 * events and the connection's end to its owner.
 */
#define QMP_LINE_MAX		(64 * 1024)
enum qmp_kind { QMP_GREETING, QMP_RETURN, QMP_ERROR, QMP_EVENT };
struct qmp_msg {
	enum qmp_kind	 kind;
	char		 event[64];	/* QMP_EVENT: "SHUTDOWN", "POWERDOWN", ... */
	char		 error[160];	/* QMP_ERROR: class and desc */
	long		 id;		/* our "id" echoed back; -1: none */
	int		 guest;		/* SHUTDOWN: "guest": true */
};
struct qmp {
	struct event	 ev;
	int		 ready;		/* capabilities negotiated */
	char		 in[QMP_LINE_MAX];
	size_t		 inlen;
	char		 out[1024];	/* commands waiting for the connection */
	size_t		 outlen;
	long		 next_id;
	void		(*on_msg)(struct qmp *, const struct qmp_msg *);	/* NULL: none */
	void		(*on_close)(struct qmp *);	/* EOF or error; fd closed */
	void		 *arg;
};
int	 qmp_open(struct qmp *, const char *path);	/* ENOENT, ECONNREFUSED: not yet */
int	 qmp_command(struct qmp *, const char *execute);	/* id, queued until ready */
void	 qmp_close(struct qmp *);			/* no on_close */

/*
 * seed.c: a cloud-init NoCloud seed, an ISO 9660 image labelled "cidata"
 * holding user-data, meta-data (and network-config when given). Pure.
 */
int	 seed_iso(const char *user_data, const char *meta_data, const char *network_config,
	    uint8_t **out, size_t *len);		/* malloc'd; ENOMEM, EFBIG */

/*
 * fetch.c: a guest's sources made into local files. Downloads run as a
 * child process, `nestbox-fetch` (the init binary under that name), as an
 * unprivileged user: libcurl writes NAME.part, the sha256 is checked, then
 * rename(2); an interrupted download resumes with a Range request. The
 * child's exit status says how it ended, its stderr (progress, errors)
 * goes to the log.
 */
#define FETCH_BIN		"/usr/libexec/nestbox/nestbox-fetch"
#define FETCH_UID		900	/* user nestbox-fetch: gs:// (the token); its group owns STATE_IMAGES */
#define FETCH_HTTP_UID		901	/* user nestbox-fetch-http: http(s), kept from 169.254.0.0/16 */
#define GCS_API			"https://storage.googleapis.com/storage/v1/b/"
#define MD_TOKEN_PATH		"instance/service-accounts/default/token"
enum fetch_status {		/* nestbox-fetch's exit status */
	FETCH_OK = 0,
	FETCH_ERROR = 1,	/* transport, HTTP status; retried later */
	FETCH_MISMATCH = 2,	/* the sha256 differs: not retried */
	FETCH_NOSPACE = 3,	/* the state partition is full */
	FETCH_REFUSED = 4,	/* a qcow2 image that names other files: not retried */
	FETCH_TOOBIG = 5,	/* larger than its max-size: not retried */
	FETCH_USAGE = 64,
};
int	 fetch_cache_path(const struct guest_source *, char *buf, size_t size);	/* under STATE_IMAGES */
int	 gcs_url(const char *ref, const char *api, char *buf, size_t size);	/* "bucket/object" */
int	 pd_find(const char *sysblock, const char *devname, char *buf, size_t size);	/* /dev/sdb; ENOENT */
int	 image_check(const char *json, size_t len, char *why, size_t size);	/* qemu-img info's */

/*
 * The guests at run time (vm.c and its neighbours, guest/vm.h inside):
 * each declared guest has a state machine; every metadata change computes
 * a plan against what runs and applies it. vm_control_ops (ctl/ctl.h,
 * guest/ops.c) is how the control socket reaches them.
 */
int	 vm_init(void);			/* metadata listener, shutdown hook, status */

#endif /* NESTBOX_GUEST_H */

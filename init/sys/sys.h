/*
 * sys/: the machine under PID 1: mounts, the console, the power button,
 * kernel modules, the CPU, /dev/kvm and the state partition.
 *
 * Unless a comment says otherwise, functions return 0 on success and -1
 * with errno set on failure.
 */
#ifndef NESTBOX_SYS_H
#define NESTBOX_SYS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <netinet/in.h>

#include "core/core.h"

/* mount.c */
int	 mount_dev(void);		/* devtmpfs on /dev; does not log */
int	 mount_early(void);		/* proc, sys, ...; logs each failure */
void	 unmount_all(void);

/* cgroup.c: each guest's QEMU in its own cgroup v2 group, under the guests'. */
#define CGROUP_ROOT		"/sys/fs/cgroup"
#define CGROUP_GUESTS		CGROUP_ROOT "/nestbox-guests"
#define CGROUP_GUESTS_WEIGHT	"20"		/* all guests together; a root process: 100 */
#define CGROUP_OVERHEAD		(256ULL << 20)	/* QEMU's own memory, above the guest's */
#define CGROUP_TCG_OVERHEAD	(1ULL << 30)	/* and TCG's translation cache */
#define CGROUP_PIDS_MAX		"1024"
int	 cgroup_init(void);		/* logs */
int	 cgroup_guest(const char *name, pid_t, uint64_t memory_max);
void	 cgroup_guest_end(const char *name);	/* cgroup.kill, rmdir; logs */

/* cpu.c */
enum cpu_vendor { CPU_OTHER, CPU_INTEL, CPU_AMD };
struct cpu {
	enum cpu_vendor	 vendor;
	char		 vendor_id[16];
	int		 vmx;
	int		 svm;
};
int	 cpu_read(const char *path, struct cpu *);

/* modules.c */
int	 modules_init(const struct cpu *);	/* the real system; logs the summary */

/* console.c */
int	 console_init(void);
int	 getty_start(void);
int	 shell_start(void);		/* nestbox shell on ttyS1, if it is a UART; logs */

/* input.c */
int	 input_init(void);

/* kvm.c: /dev/kvm for the L2 guests, or why not. */
int	 kvm_init(const struct cpu *);		/* kvm_check of /dev/kvm */
int	 kvm_available(void);
const char *kvm_status(void);			/* "ok", or the reason */

/*
 * store.c: the state partition (ext4, label nestbox-state): found on the
 * boot disk, checked with e2fsck, grown to the end of the disk on the first
 * boot (MBR entry, BLKPG, resize2fs), mounted at STATE_DIR. Without it,
 * STATE_DIR is a tmpfs and the status says so.
 */
#define STATE_DIR		"/var/lib/nestbox"
#define STATE_LABEL		"nestbox-state"
#define STATE_IMAGES		STATE_DIR "/images"	/* downloads, by sha256 */
#define STATE_GUESTS		STATE_DIR "/guests"	/* NAME/: overlays, seed, console.log */
int	 store_init(void);		/* 1: persistent, 0: tmpfs; logs */
int	 store_persistent(void);
int	 store_is_l1_disk(dev_t whole);	/* the disk the L1 booted from, its state's */

#endif /* NESTBOX_SYS_H */

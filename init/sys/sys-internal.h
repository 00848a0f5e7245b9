/*
 * sys/sys-internal.h: what the files of sys/ share among themselves and
 * with their unit tests and fuzz targets, but offer to no other folder:
 * the pure parsers and planners behind mount.c, cpu.c, modules.c, input.c,
 * kvm.c and store.c. sys/sys.h is what the rest of nestbox uses.
 */
#ifndef NESTBOX_SYS_INTERNAL_H
#define NESTBOX_SYS_INTERNAL_H

#include <limits.h>

#include "sys/sys.h"

/* mount.c */
int	 mounts_parse(char *text, size_t len, char **dirs, size_t max, size_t *n);

/* cpu.c */
int	 cpu_parse(const char *text, size_t len, struct cpu *);
const char *cpu_kvm_module(const struct cpu *);	/* NULL: this CPU can not run KVM */

/* modules.c */
#define MODNAME_MAX	56	/* the kernel's MODULE_NAME_LEN, with the NUL */
#define MODDEP_MAX_DEPS	256
#define MODDEP_MAX_DEPTH 32

struct modreq {				/* a line of /etc/nestbox/modules */
	char		 name[MODNAME_MAX];
	const char	*params;	/* the rest of the line, "" if none */
	unsigned	 line;
};
struct modlist {
	struct modreq	*v;
	size_t		 n;
	size_t		 bad;		/* lines skipped; the first few are logged */
};
enum mod_state { MOD_NEW, MOD_LOADED, MOD_FAILED };
struct modentry {			/* a line of modules.dep */
	char		 name[MODNAME_MAX];
	const char	*path;
	const char	**deps;
	size_t		 ndeps;
	enum mod_state	 state;
	int		 error;		/* errno of a failed load */
	int		 mark, visiting;	/* moddep_plan's walk */
};
struct moddep {
	struct modentry	*v;		/* sorted by name */
	size_t		 n;
	const char	**depv;		/* storage for all entries' deps */
	size_t		 bad;
};
struct names {				/* a sorted set of module names */
	char		(*v)[MODNAME_MAX];
	size_t		 n;
};
struct modconf {
	const char	*list;		/* /etc/nestbox/modules */
	const char	*dir;		/* /lib/modules/$(uname -r) */
	const struct cpu *cpu;
	int		(*load)(const char *path, const char *params);
};
struct modstats {
	unsigned	 loaded, builtin, skipped, failed;
};
int	 modname(const char *s, size_t len, char out[MODNAME_MAX]);
int	 modname_path(const char *path, char out[MODNAME_MAX]);
int	 modlist_parse(char *text, size_t len, struct modlist *);
void	 modlist_free(struct modlist *);
int	 moddep_parse(char *text, size_t len, struct moddep *);
struct modentry *moddep_find(const struct moddep *, const char *name);
int	 moddep_plan(struct moddep *, struct modentry *, struct modentry **order,
	    size_t max, size_t *n, const char **culprit);
void	 moddep_free(struct moddep *);
int	 names_parse(char *text, size_t len, struct names *);	/* modules.builtin */
int	 names_has(const struct names *, const char *name);
void	 names_free(struct names *);
int	 modules_load(const struct modconf *, struct modstats *);
int	 module_insert(const char *path, const char *params);

/* input.c */
int	 input_has_power_key(const unsigned long *keybits, size_t nbits);

/* kvm.c */
const char *kvm_diagnose(const struct cpu *, int open_errno, int api, char *buf, size_t size);
int	 kvm_check(const struct cpu *, const char *path);	/* 1: usable; logs */

/* store.c */
struct mbr_part {
	uint8_t		 type;
	uint32_t	 start, sectors;	/* in 512-byte sectors */
};
int	 mbr_parse(const uint8_t mbr[512], struct mbr_part parts[4]);	/* EINVAL: no 55AA */
int	 mbr_grow(uint8_t mbr[512], int index, uint64_t disk_sectors);	/* 1: grown, 0: already */
int	 ext4_label(const uint8_t sb[1024], char label[17]);		/* EINVAL: not ext2/3/4 */
int	 l1_disk_find(const char *sysblock, const char *devdir, char disk[NAME_MAX + 1]);

#endif /* NESTBOX_SYS_INTERNAL_H */

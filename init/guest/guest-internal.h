/*
 * guest/guest-internal.h: what the pure files of guest/ (decl.c, fetch.c,
 * qmp.c) share among themselves and with their unit tests and fuzz
 * targets, offered to no other folder. guest/guest.h is what the rest of
 * nestbox uses.
 */
#ifndef NESTBOX_GUEST_INTERNAL_H
#define NESTBOX_GUEST_INTERNAL_H

#include "guest/guest.h"

/* decl.c */
int	 guest_size_parse(const char *s, uint64_t *bytes);	/* "512M", "2GiB" */
int	 guest_qemu_arg_ok(const char *opt, const char *val, char *why, size_t size);
const char *accel_str(enum accel_mode);
int	 guest_errors_add(struct guest_errors *, const char *fmt, ...) NB_PRINTF(2, 3);	/* ENOMEM */

/* qmp.c */
int	 qmp_parse(const char *line, size_t len, struct qmp_msg *);	/* EINVAL */

/* fetch.c */
int	 gcs_bucket_ok(const char *b, size_t len);	/* a GCS bucket name; decl.c too */
int	 pd_nvme_name(const void *id, size_t len, char *name, size_t size);	/* Identify Namespace */

#endif /* NESTBOX_GUEST_INTERNAL_H */

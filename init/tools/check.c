/*
 * `nestbox check FILE`: a nestbox-guests declaration checked as PID 1 would
 * check it (guest/decl.c), without PID 1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest/guest.h"
#include "tools/tools.h"

#define DOC		"nestbox-guests: "

/*
 * nestbox check FILE ("-": standard input): every error on its own line,
 * then a summary. Exit 0: every guest is valid; 1: some are not, or the
 * document is rejected; 2: usage, or the file can not be read.
 */
int
guests_check_main(int argc, char *argv[])
{
	struct guest_set	 set;
	struct guest_errors	 errs;
	const char		*path;
	char			*text;
	size_t			 len, i;
	int			 rv;

	if (argc != 2) {
		fprintf(stderr, "usage: nestbox check FILE\n"
		    "checks a nestbox-guests declaration (docs/guests.md); - reads "
		    "standard input\n");
		return 2;
	}
	path = strcmp(argv[1], "-") == 0 ? "/dev/stdin" : argv[1];
	/* one byte more than allowed, so the parser says it is too large */
	if ((text = read_file(path, GUESTS_DOC_MAX + 1, &len)) == NULL) {
		if (errno != EFBIG) {
			fprintf(stderr, "nestbox check: %s: %s\n", argv[1], strerror(errno));
			return 2;
		}
		printf("%s: " DOC "larger than %d bytes\n%s: rejected, no guest would run\n",
		    argv[1], GUESTS_DOC_MAX, argv[1]);
		return 1;
	}
	rv = guests_parse(text, len, &set, &errs);
	free(text);
	if (rv == -1 && errno == ENOMEM) {
		fprintf(stderr, "nestbox check: out of memory\n");
		return 2;
	}
	for (i = 0; i < errs.n; i++)
		printf("%s: %s\n", argv[1], errs.v[i]);
	if (errs.document)
		printf("%s: rejected, no guest would run\n", argv[1]);
	else
		printf("%s: %zu guest%s valid, %zu invalid\n", argv[1], set.n,
		    set.n == 1 ? "" : "s", errs.invalid);
	rv = errs.document || errs.invalid > 0;
	guests_free(&set);
	guest_errors_free(&errs);
	return rv;
}

/* Small helpers shared by the subsystems. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nestbox.h"

/*
 * Reads a whole file into a NUL-terminated buffer. Files in /proc report a
 * size of 0, so this reads until EOF and fails with EFBIG past max bytes
 * rather than trusting st_size.
 */
char *
read_file(const char *path, size_t max, size_t *len)
{
	char	*buf = NULL, *p;
	size_t	 cap = 0, n = 0;
	ssize_t	 r;
	int	 fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	for (;;) {
		if (n == cap) {
			if (cap == max + 1) {	/* one byte more than allowed */
				errno = EFBIG;
				goto err;
			}
			cap = cap ? cap * 2 : 4096;
			if (cap > max + 1)
				cap = max + 1;
			if ((p = realloc(buf, cap + 1)) == NULL)
				goto err;
			buf = p;
		}
		r = read(fd, buf + n, cap - n);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			goto err;
		if (r == 0)
			break;
		n += r;
	}
	close(fd);
	buf[n] = '\0';
	if (len != NULL)
		*len = n;
	return buf;
err:
	saved = errno;
	free(buf);
	close(fd);
	errno = saved;
	return NULL;
}

/* Reads at most size-1 bytes: enough of a file whose head is all we need. */
ssize_t
read_head(const char *path, char *buf, size_t size)
{
	size_t	 n = 0;
	ssize_t	 r;
	int	 fd, saved;

	if (size == 0) {
		errno = EINVAL;
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	while (n < size - 1) {
		r = read(fd, buf + n, size - 1 - n);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		if (r == 0)
			break;
		n += r;
	}
	close(fd);
	buf[n] = '\0';
	return n;
}

/*
 * Returns the next line of [*cursor, end) with its newline replaced by NUL,
 * and advances *cursor. The buffer must have a byte at end to hold the NUL
 * of an unterminated last line (read_file's buffers do).
 */
char *
next_line(char **cursor, char *end)
{
	char	*line = *cursor, *nl;

	if (line >= end)
		return NULL;
	if ((nl = memchr(line, '\n', end - line)) == NULL)
		nl = end;
	*nl = '\0';
	*cursor = nl + 1;
	return line;
}

uint64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The CPU's vendor and virtualization flags, from /proc/cpuinfo. */
#include <errno.h>
#include <string.h>

#include "sys/sys-internal.h"

#define CPUINFO_HEAD	(64 * 1024)	/* the first processor is all we read */

static const char *
skip_space(const char *s, const char *end)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	return s;
}

/* Is word one of the space-separated words of [s, end)? */
static int
has_word(const char *s, const char *end, const char *word)
{
	size_t	 wl = strlen(word), l;
	const char *w;

	while ((s = skip_space(s, end)) < end) {
		for (w = s; s < end && *s != ' ' && *s != '\t'; s++)
			;
		l = s - w;
		if (l == wl && memcmp(w, word, l) == 0)
			return 1;
	}
	return 0;
}

/*
 * Parses the first processor's block: "vendor_id\t: GenuineIntel" and
 * "flags\t\t: fpu vme ... vmx ...". The text need not be NUL-terminated.
 * EINVAL when there is no vendor_id.
 */
int
cpu_parse(const char *text, size_t len, struct cpu *cpu)
{
	const char	*line = text, *end = text + len, *eol, *colon, *k, *v;
	size_t		 kl, vl;
	int		 seen_vendor = 0, seen_flags = 0;

	memset(cpu, 0, sizeof(*cpu));
	for (; line < end; line = eol + 1) {
		if ((eol = memchr(line, '\n', end - line)) == NULL)
			eol = end;
		if (eol == line) {		/* a blank line ends a block */
			if (seen_vendor || seen_flags)
				break;
			continue;
		}
		if ((colon = memchr(line, ':', eol - line)) == NULL)
			continue;
		for (k = colon; k > line && (k[-1] == ' ' || k[-1] == '\t'); k--)
			;
		kl = k - line;
		v = skip_space(colon + 1, eol);
		vl = eol - v;
		while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
			vl--;
		if (kl == 9 && memcmp(line, "vendor_id", 9) == 0 && !seen_vendor) {
			seen_vendor = 1;
			if (vl >= sizeof(cpu->vendor_id))
				vl = sizeof(cpu->vendor_id) - 1;
			memcpy(cpu->vendor_id, v, vl);
			cpu->vendor_id[vl] = '\0';
		} else if (kl == 5 && memcmp(line, "flags", 5) == 0 && !seen_flags) {
			seen_flags = 1;
			cpu->vmx = has_word(v, v + vl, "vmx");
			cpu->svm = has_word(v, v + vl, "svm");
		}
	}
	if (!seen_vendor) {
		errno = EINVAL;
		return -1;
	}
	if (strcmp(cpu->vendor_id, "GenuineIntel") == 0)
		cpu->vendor = CPU_INTEL;
	else if (strcmp(cpu->vendor_id, "AuthenticAMD") == 0 ||
	    strcmp(cpu->vendor_id, "HygonGenuine") == 0)	/* runs kvm_amd */
		cpu->vendor = CPU_AMD;
	return 0;
}

int
cpu_read(const char *path, struct cpu *cpu)
{
	static char	 buf[CPUINFO_HEAD];
	ssize_t		 n;

	if ((n = read_head(path, buf, sizeof(buf))) == -1)
		return -1;
	return cpu_parse(buf, n, cpu);
}

/* The KVM module this CPU can run, or NULL. */
const char *
cpu_kvm_module(const struct cpu *cpu)
{
	if (cpu->vendor == CPU_INTEL && cpu->vmx)
		return "kvm_intel";
	if (cpu->vendor == CPU_AMD && cpu->svm)
		return "kvm_amd";
	return NULL;
}

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

static const char intel[] =
    "processor\t: 0\n"
    "vendor_id\t: GenuineIntel\n"
    "cpu family\t: 6\n"
    "model name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\n"
    "flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic vmx ssse3 fma\n"
    "\n"
    "processor\t: 1\n"
    "vendor_id\t: AuthenticAMD\n"
    "flags\t\t: fpu svm\n"
    "\n";

/* The text is copied to the heap without a NUL: the parser must not need one. */
static int
parse(const char *text, struct cpu *cpu)
{
	size_t	 len = strlen(text);
	char	*buf = malloc(len ? len : 1);
	int	 rv;

	assert_non_null(buf);
	memcpy(buf, text, len);
	rv = cpu_parse(buf, len, cpu);
	free(buf);
	return rv;
}

static void
cpu_intel_vmx(void **state)
{
	struct cpu	 cpu;

	(void)state;
	assert_int_equal(parse(intel, &cpu), 0);
	assert_int_equal(cpu.vendor, CPU_INTEL);
	assert_string_equal(cpu.vendor_id, "GenuineIntel");
	assert_true(cpu.vmx);
	assert_false(cpu.svm);		/* from the second block: ignored */
	assert_string_equal(cpu_kvm_module(&cpu), "kvm_intel");
}

static void
cpu_amd_svm(void **state)
{
	struct cpu	 cpu;

	(void)state;
	assert_int_equal(parse("vendor_id : AuthenticAMD\nflags : fpu svm npt\n",
	    &cpu), 0);
	assert_int_equal(cpu.vendor, CPU_AMD);
	assert_true(cpu.svm);
	assert_string_equal(cpu_kvm_module(&cpu), "kvm_amd");
	assert_int_equal(parse("vendor_id\t: HygonGenuine\nflags\t: svm\n", &cpu), 0);
	assert_string_equal(cpu_kvm_module(&cpu), "kvm_amd");
}

static void
cpu_no_virt(void **state)
{
	struct cpu	 cpu;

	(void)state;
	/* GCE without nested virtualization: Intel without vmx */
	assert_int_equal(parse("vendor_id\t: GenuineIntel\nflags\t\t: fpu vmxx xvmx svm_lock\n",
	    &cpu), 0);
	assert_false(cpu.vmx);
	assert_false(cpu.svm);
	assert_null(cpu_kvm_module(&cpu));
	/* vmx on an AMD, svm on an Intel: not a match */
	assert_int_equal(parse("vendor_id: AuthenticAMD\nflags: vmx\n", &cpu), 0);
	assert_null(cpu_kvm_module(&cpu));
	assert_int_equal(parse("vendor_id: GenuineIntel\nflags: svm\n", &cpu), 0);
	assert_null(cpu_kvm_module(&cpu));
	assert_int_equal(parse("vendor_id: CentaurHauls\nflags: vmx\n", &cpu), 0);
	assert_int_equal(cpu.vendor, CPU_OTHER);
	assert_null(cpu_kvm_module(&cpu));
}

static void
cpu_flags_last_word(void **state)
{
	struct cpu	 cpu;

	(void)state;
	/* the flag last on an unterminated line, with trailing blanks */
	assert_int_equal(parse("vendor_id : GenuineIntel\nflags : fpu vmx  \t", &cpu), 0);
	assert_true(cpu.vmx);
	assert_int_equal(parse("flags : svm\nvendor_id : AuthenticAMD", &cpu), 0);
	assert_true(cpu.svm);
	assert_string_equal(cpu.vendor_id, "AuthenticAMD");
}

static void
cpu_malformed(void **state)
{
	struct cpu	 cpu;
	char		 big[8192];

	(void)state;
	errno = 0;
	assert_int_equal(parse("", &cpu), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(parse("flags : vmx\n", &cpu), -1);
	assert_int_equal(parse("vendor_id GenuineIntel\n:\n::\n", &cpu), -1);
	assert_int_equal(parse("\n\n\nvendor_id:\n", &cpu), 0);
	assert_string_equal(cpu.vendor_id, "");
	/* a vendor longer than the field is cut, not overflowed */
	memset(big, 'A', sizeof(big));
	memcpy(big, "vendor_id : ", 12);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(parse(big, &cpu), 0);
	assert_int_equal(strlen(cpu.vendor_id), sizeof(cpu.vendor_id) - 1);
	assert_int_equal(cpu.vendor, CPU_OTHER);
}

static void
cpu_read_file(void **state)
{
	struct cpu	 cpu;
	char		*dir = tmpdir(), path[4096];

	(void)state;
	put_file(dir, "cpuinfo", intel);
	snprintf(path, sizeof(path), "%s/cpuinfo", dir);
	assert_int_equal(cpu_read(path, &cpu), 0);
	assert_int_equal(cpu.vendor, CPU_INTEL);
	snprintf(path, sizeof(path), "%s/none", dir);
	assert_int_equal(cpu_read(path, &cpu), -1);
	assert_int_equal(errno, ENOENT);
	rmtree(dir);
	/* the build host's own */
	assert_int_equal(cpu_read("/proc/cpuinfo", &cpu), 0);
	assert_true(cpu.vendor_id[0] != '\0');
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(cpu_intel_vmx),
	cmocka_unit_test(cpu_amd_svm),
	cmocka_unit_test(cpu_no_virt),
	cmocka_unit_test(cpu_flags_last_word),
	cmocka_unit_test(cpu_malformed),
	cmocka_unit_test(cpu_read_file),
};
const struct suite cpu_suite = { tests, NTESTS(tests) };

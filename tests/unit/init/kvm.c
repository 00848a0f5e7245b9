#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

static void
kvm_reasons(void **state)
{
	struct cpu	 cpu;
	char		 buf[160];

	(void)state;
	memset(&cpu, 0, sizeof(cpu));
	cpu.vendor = CPU_INTEL;
	strcpy(cpu.vendor_id, "GenuineIntel");
	assert_string_equal(kvm_diagnose(&cpu, ENOENT, -1, buf, sizeof(buf)),
	    "the CPU has no VMX: nested virtualization is off");
	cpu.vmx = 1;
	assert_string_equal(kvm_diagnose(&cpu, ENOENT, -1, buf, sizeof(buf)),
	    "/dev/kvm is missing: kvm_intel did not load");
	assert_string_equal(kvm_diagnose(&cpu, EACCES, -1, buf, sizeof(buf)),
	    "/dev/kvm: Permission denied");
	assert_string_equal(kvm_diagnose(&cpu, 0, 11, buf, sizeof(buf)),
	    "/dev/kvm answers API version 11, not 12");
	assert_null(kvm_diagnose(&cpu, 0, 12, buf, sizeof(buf)));
	memset(&cpu, 0, sizeof(cpu));
	cpu.vendor = CPU_AMD;
	strcpy(cpu.vendor_id, "AuthenticAMD");
	assert_string_equal(kvm_diagnose(&cpu, ENOENT, -1, buf, sizeof(buf)),
	    "the CPU is AuthenticAMD without SVM: GCE nests on Intel only");
	strcpy(cpu.vendor_id, "CentaurHauls");
	cpu.vendor = CPU_OTHER;
	assert_string_equal(kvm_diagnose(&cpu, 0, 12, buf, sizeof(buf)),
	    "the CPU is CentaurHauls, neither Intel nor AMD");
	assert_string_equal(kvm_diagnose(NULL, ENOENT, -1, buf, sizeof(buf)),
	    "/dev/kvm is missing: the kvm module did not load");
}

/* Without /dev/kvm: the diagnosis and the fix, on the log and in the status. */
static void
kvm_missing(void **state)
{
	struct cpu	 cpu;
	char		*log;
	int		 fd;

	(void)state;
	memset(&cpu, 0, sizeof(cpu));
	cpu.vendor = CPU_AMD;
	strcpy(cpu.vendor_id, "AuthenticAMD");
	fd = log_capture();
	assert_int_equal(kvm_check(&cpu, "/nonexistent/kvm"), 0);
	log = log_captured(fd);
	assert_int_equal(kvm_available(), 0);
	assert_string_equal(kvm_status(), "the CPU is AuthenticAMD without SVM: GCE nests on Intel only");
	assert_non_null(strstr(log, "nestbox: warning: kvm: not available: the CPU is AuthenticAMD"));
	assert_non_null(strstr(log, "licenses/enable-vmx"));
	assert_non_null(strstr(log, "--enable-nested-virtualization"));
	assert_non_null(strstr(log, "Haswell"));
	assert_non_null(strstr(log, "not E2"));
	free(log);
	/* /dev/null opens, but is not KVM */
	cpu.svm = 1;
	fd = log_capture();
	assert_int_equal(kvm_check(&cpu, "/dev/null"), 0);
	free(log_captured(fd));
	assert_string_equal(kvm_status(), "/dev/kvm: Inappropriate ioctl for device");
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(kvm_reasons),
	cmocka_unit_test(kvm_missing),
};
const struct suite kvm_suite = { tests, NTESTS(tests) };

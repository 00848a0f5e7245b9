# Boots out/nestbox.img from its disk through SeaBIOS, as GCE does, under
# QEMU TCG, and reads the serial console: banner, modules, ready, and a clean
# power-off on the ACPI power button.
load helpers
load lib/vm

setup() {
	[ -f "$OUT/nestbox.img" ] || { echo "out/nestbox.img is missing: run make first"; return 1; }
	version=$(sed -n 's/^NESTBOX_VERSION ?= *//p' "$TOP/config/nestbox.conf")
}

teardown() { vm_kill; }

@test "the image boots from its disk into our init, loads its modules and powers off on the power button" {
	vm_start "$OUT/nestbox.img"
	vm_wait "nestbox: nestbox $version starting" 120
	banner=$(vm_elapsed)
	vm_wait 'nestbox: modules: [0-9]+ loaded' 60
	run grep -E 'nestbox: modules: [0-9]+ loaded' "$VM_CONSOLE"
	assert_output --regexp ', 0 failed'
	# Under -cpu max the L1 is an AMD-like CPU with SVM: kvm_amd, not kvm_intel.
	refute grep -q 'nestbox: warning: modules: failed' "$VM_CONSOLE"
	vm_wait 'nestbox: ready' 60
	ready=$(vm_elapsed)
	echo "# boot: banner after ${banner} s, ready after ${ready} s (TCG)" >&3

	run vm_qmp system_powerdown
	assert_success
	start=$SECONDS
	vm_wait_exit 30
	echo "# power button to QEMU exit: $((SECONDS - start)) s" >&3
	run grep -E 'nestbox: shutdown' "$VM_CONSOLE"
	assert_success
	# The kernel's own last words of a clean power-off, and no panic.
	grep -q 'reboot: Power down' "$VM_CONSOLE" || { vm_tail; false; }
	refute grep -q 'Kernel panic' "$VM_CONSOLE"
}

@test "a getty answers on the serial console and root can not log in" {
	vm_start "$OUT/nestbox.img"
	vm_wait 'nestbox: ready' 180
	vm_type '\r'
	vm_wait 'login: ' 30
	vm_type 'root\r'
	vm_wait 'Password: ' 30
	# The prompt is up before login reads (and flushes what came before):
	# type the password until login answers, instead of guessing how long.
	local n
	for n in $(seq 10); do
		vm_type 'nestbox\r'
		vm_wait 'Login incorrect' 3 >/dev/null && break
	done
	vm_wait 'Login incorrect' 30
	refute grep -qE '^[^ ]*# ' "$VM_CONSOLE"
}

# make bench (scripts/bench), in its quick mode: one boot, no build timings.
# Checks the JSON it writes has every figure, each a number above zero, and
# that it leaves no namespace behind. The full run is `make bench`.
load helpers

@test "bench --runs 1 --no-build writes bench.json with every figure, and cleans up" {
	[ -f "$OUT/nestbox.img" ] || { echo "out/nestbox.img is missing: run make first"; false; }
	before=$(ip netns list | awk '{ print $1 }')
	run timeout 420 "$TOP/scripts/bench" --runs 1 --no-build --no-scale --out "$BATS_TEST_TMPDIR"
	assert_success
	[ -s "$BATS_TEST_TMPDIR/bench.md" ]
	run python3 - "$BATS_TEST_TMPDIR/bench.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
want = """size.vmlinuz size.initramfs size.disk_apparent size.disk_allocated
size.tarball size.qemu size.init size.init_image boot.kernel boot.init boot.kvm
boot.ready boot.eth0 boot.l2net boot.metadata boot.metadata_guest boot.watch
metadata.change mem.pid1 mem.dnsmasq boot.l2_qemu_exec boot.l2_first_serial
metadata.change_to_guest_exec mem.qemu_rss mem.qemu_beyond_guest_ram""".split()
bad = []
for k in want:
    f = doc["figures"].get(k)
    if f is None:
        bad.append(k + ": missing")
        continue
    for x in ("median", "min", "max", "runs"):
        v = f.get(x)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or v <= 0:
            bad.append("%s.%s: %r" % (k, x, v))
    if not f["min"] <= f["median"] <= f["max"]:
        bad.append(k + ": min <= median <= max does not hold")
for k in ("build.noop", "build.incremental", "build.cold", "guests.start_16", "guests.reconcile_32"):
    if k in doc["figures"] or k not in doc["not_measured"]:
        bad.append(k + ": should be reported as not measured")
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
	assert_success
	# the boot order the figures promise
	run python3 -c "
import json, sys
f = json.load(open('$BATS_TEST_TMPDIR/bench.json'))['figures']
order = ['boot.kernel', 'boot.init', 'boot.kvm', 'boot.ready', 'boot.metadata', 'boot.watch', 'boot.l2_qemu_exec', 'boot.l2_first_serial']
print([(k, f[k]['median']) for k in order])
sys.exit(0 if all(f[a]['median'] <= f[b]['median'] for a, b in zip(order, order[1:])) else 1)"
	assert_success
	# nothing left behind: a new namespace whose owner is gone is the bench's
	for ns in $(ip netns list | awk '{ print $1 }' | grep -E '^nb[0-9]+(l0|out|peer)$'); do
		grep -qx "$ns" <<<"$before" && continue
		p=${ns#nb}
		kill -0 "${p%%[a-z]*}" 2>/dev/null || { echo "left behind: $ns"; false; }
	done
}

# The commands in README.md and docs/*.md: each one is run by a test or
# marked "# GCE-only" (it needs a real Google Cloud project).
#
# A command is a line of a ```sh block (continued by a trailing \, |, && or
# ||; comments and heredoc bodies left out), or a "$ " line of a ```console
# block. Blocks of file contents use another tag (json, bash, text). A
# command is covered when
#   - its comment starts with GCE-only;
#   - it is in a block tagged <!-- tests/docs.bats runs this block: NAME -->
#     and a test below calls run_doc_block with that file and NAME;
#   - it is a --dry-run of scripts/gce-*, which a test below runs;
#   - it runs tests: tests/run FILE... (the files exist), or a make target
#     whose recipe runs tests/run (make test);
#   - tests/docs-commands.txt maps it to a test file that exists and
#     contains the command's program: its path for scripts/ and tests/, its
#     name otherwise, and for make TARGET the script the target's recipe
#     runs (make alone: "make").
# Blocks tagged <!-- tests/docs.bats writes this file: NAME --> are written
# to NAME in the directory the commands run in.
load helpers

TABLE=$TOP/tests/docs-commands.txt
FAKE_GCLOUD=$TOP/tests/fixtures/fake-gcloud

# scan MODE ARG...: reads the docs (docs.py below).
#   check                 the problems, one a line; exit 1 if any
#   block FILE NAME       the text of FILE's block "runs this block: NAME"
#   files FILE DIR        FILE's "writes this file" blocks, written into DIR
#   dry-runs              each --dry-run command: FILE<tab>COMMAND
#   guests DIR            each nestbox-guests example, as DIR/FILE-LINE.json
scan() {
	python3 -c "$DOCS_PY" "$TOP" "$@"
}

DOCS_PY=$(cat <<'PY'
import glob, json, os, re, shlex, sys

top = sys.argv[1]
mode, args = sys.argv[2], sys.argv[3:]
docs = [os.path.join(top, "README.md")] + sorted(glob.glob(os.path.join(top, "docs", "*.md")))
FENCE = re.compile(r"^(\s*)```(\w*)\s*$")
TAG = re.compile(r"<!--\s*tests/docs\.bats (runs this block|writes this file):\s*(\S+)\s*-->")
GCE_SCRIPTS = ("scripts/gce-import", "scripts/gce-create", "scripts/gce-mig")


def rel(path):
    return os.path.relpath(path, top)


def blocks(path):
    """Fenced blocks: dicts with lang, line (of the fence), tag, lines."""
    out, cur, prev = [], None, ""
    with open(path) as f:
        text = f.read().split("\n")
    for n, line in enumerate(text, 1):
        m = FENCE.match(line)
        if cur is None:
            if m:
                t = TAG.search(prev)
                cur = {"lang": m.group(2), "line": n, "indent": len(m.group(1)),
                       "tag": (t.group(1), t.group(2)) if t else None, "lines": []}
            elif line.strip():
                prev = line
            continue
        if m and m.group(2) == "":
            out.append(cur)
            cur, prev = None, ""
            continue
        ind = len(line) - len(line.lstrip(" "))
        cur["lines"].append((n, line[min(ind, cur["indent"]):]))
    return out


def split_comment(s):
    """The code and the comment (None) of a shell line."""
    q, i = None, 0
    while i < len(s):
        c = s[i]
        if q == "'":
            if c == "'":
                q = None
        elif c == "\\":
            i += 1
        elif q == '"':
            if c == '"':
                q = None
        elif c in "'\"":
            q = c
        elif c == "#" and (i == 0 or s[i - 1] in " \t"):
            return s[:i].rstrip(), s[i + 1:].strip()
        i += 1
    return s.rstrip(), None


def commands(block):
    """(line, code, comment) for each command of a sh or console block."""
    out, cur, heredoc = [], None, None
    for n, text in block["lines"]:
        if heredoc is not None:
            if text.strip() == heredoc:
                heredoc = None
            continue
        s = text.strip()
        if cur is None:
            if block["lang"] == "console":
                if not s.startswith("$ "):
                    continue
                s = s[2:].strip()
            if not s or s.startswith("#"):
                continue
            cur = [n, s]
        else:
            cur[1] += " " + s
        code, comment = split_comment(cur[1])
        if comment is None and code.endswith("\\"):
            cur[1] = code[:-1].rstrip()
            continue
        if comment is None and re.search(r"(\||&&)$", code):
            continue
        m = re.search(r"<<-?\s*(['\"]?)(\w+)\1", code)
        if m:
            heredoc = m.group(2)
        out.append((cur[0], code, comment))
        cur = None
    return out


def recipe_script(target):
    """What make TARGET runs: a scripts/ program, tests/run, or None."""
    with open(os.path.join(top, "Makefile")) as f:
        lines = f.read().split("\n")
    for i, line in enumerate(lines):
        if re.match(re.escape(target) + r"\s*:", line):
            for r in lines[i + 1:]:
                if not r.startswith("\t"):
                    break
                m = re.search(r"(scripts/[\w.-]+|tests/run)\b", r)
                if m:
                    return m.group(1)
            return None
    return None


def program(code, assigns):
    """(kind, key, words): what a command runs."""
    words = shlex.split(code)
    while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
        words.pop(0)
    if not words:
        return ("assign", None, words)
    if words[0].startswith("("):
        words[0] = words[0][1:]
    p = words[0]
    if p.startswith("$") and p[1:].strip("{}") in assigns:
        p = shlex.split(assigns[p[1:].strip("{}")])[0]
    if p == "sudo":
        words, p = words[1:], words[1]
    if p == "exec" and len(words) > 3 and words[1] == "-a":
        return ("program", words[2], words)
    if p == "make":
        target = next((w for w in words[1:] if not w.startswith("-") and "=" not in w), "all")
        script = recipe_script(target)
        if script == "tests/run":
            return ("suite", "make " + target, words)
        return ("program", script or "make", words)
    if p == "tests/run":
        return ("suite", p, words)
    if p in GCE_SCRIPTS and "--dry-run" in (words[:words.index("--")] if "--" in words else words):
        return ("dry-run", p, words)
    if p.startswith(("scripts/", "tests/")):
        return ("program", p, words)
    return ("program", os.path.basename(p), words)


def table():
    entries = {}
    with open(os.path.join(top, "tests", "docs-commands.txt")) as f:
        for n, line in enumerate(f, 1):
            s = line.strip()
            if not s or s.startswith("#"):
                continue
            test, cmd = s.split(None, 1)
            entries[" ".join(cmd.split())] = [test, n, False]
    return entries


def check():
    problems = []
    entries = table()
    with open(os.path.join(top, "tests", "docs.bats")) as f:
        bats = f.read()
    for path in docs:
        for b in blocks(path):
            if b["lang"] not in ("sh", "console"):
                continue
            assigns = {}
            run_by_us = b["tag"] and b["tag"][0] == "runs this block"
            if run_by_us and ("run_doc_block %s %s" % (rel(path), b["tag"][1])) not in bats:
                problems.append("%s:%d: block %s: no test runs it (run_doc_block %s %s)"
                                % (rel(path), b["line"], b["tag"][1], rel(path), b["tag"][1]))
            for n, code, comment in commands(b):
                where = "%s:%d" % (rel(path), n)
                gce = comment is not None and comment.startswith("GCE-only")
                try:
                    kind, key, words = program(code, assigns)
                except ValueError as e:
                    problems.append("%s: not a shell command (%s): %s" % (where, e, code))
                    continue
                if kind == "assign":
                    m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", code)
                    if m:
                        v = shlex.split(m.group(2))
                        assigns[m.group(1)] = v[0] if v else ""
                if gce and run_by_us:
                    problems.append("%s: GCE-only in a block tests/docs.bats runs: %s" % (where, code))
                if gce and "--dry-run" in words:
                    problems.append("%s: a --dry-run is not GCE-only: %s" % (where, code))
                if gce or run_by_us:
                    continue
                if kind == "assign":
                    if "$(" in code or "`" in code:
                        problems.append("%s: runs a command in an assignment: %s" % (where, code))
                    continue
                if kind == "dry-run":
                    continue
                if kind == "suite":
                    missing = [w for w in words[1:] if not w.startswith("-") and "=" not in w
                               and key == "tests/run" and not os.path.exists(os.path.join(top, w))]
                    if missing:
                        problems.append("%s: no such test: %s" % (where, " ".join(missing)))
                    continue
                norm = " ".join(code.split())
                if norm not in entries:
                    problems.append("%s: neither run by a test nor marked GCE-only "
                                    "(add it to tests/docs-commands.txt): %s" % (where, norm))
                    continue
                e = entries[norm]
                e[2] = True
                test = os.path.join(top, e[0])
                if not os.path.isfile(test):
                    problems.append("%s: tests/docs-commands.txt:%d names %s, which does not exist"
                                    % (where, e[1], e[0]))
                    continue
                with open(test, errors="replace") as f:
                    if key not in f.read():
                        problems.append("%s: tests/docs-commands.txt:%d: %s does not contain %s, "
                                        "the program of: %s" % (where, e[1], e[0], key, norm))
    for cmd, (test, n, used) in entries.items():
        if not used:
            problems.append("tests/docs-commands.txt:%d: no such command in the docs: %s" % (n, cmd))
    for p in problems:
        print(p)
    return 1 if problems else 0


def tagged(path, kind, name):
    for b in blocks(path):
        if b["tag"] == (kind, name):
            return "\n".join(t for _, t in b["lines"]) + "\n"
    sys.exit("%s: no block tagged '%s: %s'" % (rel(path), kind, name))


if mode == "check":
    sys.exit(check())
elif mode == "block":
    sys.stdout.write(tagged(os.path.join(top, args[0]), "runs this block", args[1]))
elif mode == "files":
    for b in blocks(os.path.join(top, args[0])):
        if b["tag"] and b["tag"][0] == "writes this file":
            with open(os.path.join(args[1], b["tag"][1]), "w") as f:
                f.write("\n".join(t for _, t in b["lines"]) + "\n")
elif mode == "dry-runs":
    for path in docs:
        for b in blocks(path):
            if b["lang"] in ("sh", "console"):
                for n, code, comment in commands(b):
                    if program(code, {})[0] == "dry-run":
                        print("%s\t%s" % (rel(path), code))
elif mode == "guests":
    for path in docs:
        for b in blocks(path):
            if b["lang"] != "json":
                continue
            text = "\n".join(t for _, t in b["lines"])
            try:
                doc = json.loads(text)
            except ValueError:
                if re.search(r'^\s*"guests"\s*:', text, re.M) and '"version"' in text:
                    print("%s:%d: a nestbox-guests example that is not JSON" % (rel(path), b["line"]))
                    sys.exit(1)
                continue
            if isinstance(doc, dict) and "guests" in doc:
                name = "%s-%d.json" % (rel(path).replace("/", "-"), b["line"])
                with open(os.path.join(args[0], name), "w") as f:
                    f.write(text + "\n")
PY
)

# work: a directory to run doc commands in, with the checkout's out/,
# scripts/, tests/ and examples/ linked, as if in the checkout.
work() {
	WORK=$BATS_TEST_TMPDIR/work
	mkdir -p "$WORK"
	for d in out scripts tests examples; do ln -sfn "$TOP/$d" "$WORK/$d"; done
}

# run_doc_block FILE NAME [SED]: the block of FILE tagged "runs this block:
# NAME", run by bash -e in $WORK, less the placeholder line that sets L0
# (the test sets it), with SED applied when given.
run_doc_block() {
	local script=$BATS_TEST_TMPDIR/block-$2.sh
	scan block "$1" "$2" >"$script"
	sed -i '/^L0=/d' "$script"
	[ -z "${3:-}" ] || sed -i "$3" "$script"
	run bash -c 'cd "$1" && bash -e "$2"' bash "$WORK" "$script"
}

# emulator DOCUMENT SOCKET: the metadata server emulator, on a port of its own.
emulator() {
	"$TOP/scripts/gce-metadata-server" --listen 127.0.0.1:0 --control "$2" --document "$1" \
		>"$BATS_TEST_TMPDIR/emulator.out" 2>&1 3>&- &
	EMULATOR=$!
	local i
	for i in $(seq 100); do
		grep -q '^listening on ' "$BATS_TEST_TMPDIR/emulator.out" && return 0
		sleep 0.05
	done
	cat "$BATS_TEST_TMPDIR/emulator.out"
	return 1
}

nestbox() {
	bash -c 'exec -a nestbox "$0" "$@"' "$OUT/init/init" "$@"
}

teardown() {
	if [ -n "${EMULATOR:-}" ]; then
		kill "$EMULATOR" 2>/dev/null
		wait "$EMULATOR" 2>/dev/null || true
	fi
}

@test "every command in the docs is run by a test or marked GCE-only" {
	run scan check
	assert_success
	assert_output ""
}

@test "every nestbox-guests example in the docs passes nestbox check" {
	[ -x "$OUT/init/init" ] || skip "no $OUT/init/init: run make init"
	mkdir "$BATS_TEST_TMPDIR/guests"
	run scan guests "$BATS_TEST_TMPDIR/guests"
	assert_success
	local f n=0
	for f in "$BATS_TEST_TMPDIR"/guests/*.json; do
		run nestbox check "$f"
		assert_success
		assert_output --regexp ': [0-9]+ guests? valid, 0 invalid$'
		n=$((n + 1))
	done
	# the complete example, the five short ones, README's and gce.md's
	[ "$n" -ge 8 ]
}

@test "docs/guests.md: nestbox check as the page runs it, on the complete example" {
	[ -x "$OUT/init/init" ] || skip "no $OUT/init/init: run make init"
	work
	awk '/^```json$/ { on = 1; next } on && /^```$/ { exit } on' "$TOP/docs/guests.md" >"$WORK/guests.json"
	run_doc_block docs/guests.md check
	assert_success
	assert_output "guests.json: 3 guests valid, 0 invalid"
}

@test "every --dry-run command in the docs runs against the fake gcloud and calls nothing" {
	[ -f "$OUT/nestbox-gce.tar.gz" ] && [ -f "$OUT/manifest.txt" ] || skip "no tarball and manifest: run make"
	export PATH=$FAKE_GCLOUD:$PATH FAKE_GCLOUD_LOG=$BATS_TEST_TMPDIR/gcloud.log
	: >"$FAKE_GCLOUD_LOG"
	local file cmd n=0
	while IFS=$'\t' read -r file cmd; do
		rm -rf "$BATS_TEST_TMPDIR/work"
		work
		scan files "$file" "$WORK"
		run bash -c 'cd "$1" && eval "$2"' bash "$WORK" "$cmd"
		[ "$status" -eq 0 ] || { echo "$file: $cmd"; echo "$output"; false; }
		assert_output --partial 'gcloud '
		n=$((n + 1))
	done < <(scan dry-runs)
	[ "$n" -ge 5 ]
	# a dry run runs nothing, not even the login check
	[ ! -s "$FAKE_GCLOUD_LOG" ]
}

@test "README: the local guest's declaration is valid and goes in through the control socket" {
	for f in "$OUT/pkg/linux/boot/vmlinuz" "$OUT/l2-guest/initramfs.img" "$OUT/init/init"; do
		[ -f "$f" ] || skip "no $f: run make test"
	done
	work
	export L0=$BATS_TEST_TMPDIR/l0
	mkdir -p "$L0/www"
	emulator "$TOP/examples/metadata.json" "$L0/metadata.sock"
	run_doc_block README.md local-guest
	assert_success
	assert_output --partial "guests.json: 1 guest valid, 0 invalid"
	curl -sS --unix-socket "$L0/metadata.sock" http://l0/document |
		jq -r '.instance.attributes["nestbox-guests"]' >"$BATS_TEST_TMPDIR/set.json"
	run nestbox check "$BATS_TEST_TMPDIR/set.json"
	assert_success
	assert_output --partial "1 guest valid, 0 invalid"
	# the sums name the files the outside host serves
	[ "$(jq -r '.guests[0].kernel.sha256' "$BATS_TEST_TMPDIR/set.json")" = \
		"$(sha256sum <"$OUT/pkg/linux/boot/vmlinuz" | cut -d' ' -f1)" ]
	[ "$(jq -r '.guests[0].initrd.sha256' "$BATS_TEST_TMPDIR/set.json")" = \
		"$(sha256sum <"$OUT/l2-guest/initramfs.img" | cut -d' ' -f1)" ]
	cmp "$L0/www/initramfs.img" "$OUT/l2-guest/initramfs.img"
}

@test "README: a metadata change in make run goes through the control socket" {
	work
	export L0=$BATS_TEST_TMPDIR/l0
	mkdir -p "$L0"
	emulator "$TOP/examples/metadata.json" "$L0/metadata.sock"
	run_doc_block README.md local-network
	assert_success
	run bash -c "curl -sS --unix-socket '$L0/metadata.sock' http://l0/document | jq -r '.instance.attributes[\"nestbox-network\"]'"
	assert_output '{"subnet":"10.20.0.0/24"}'
}

@test "docs/metadata-server.md: the control interface's commands run against the emulator" {
	work
	local sock=$BATS_TEST_TMPDIR/md.sock
	emulator "$TOP/tests/fixtures/metadata/basic.json" "$sock"
	cp "$TOP/tests/fixtures/metadata/basic.json" "$WORK/doc.json"
	run_doc_block docs/metadata-server.md control "s|/tmp/md.sock|$sock|g"
	assert_success
	# every reply is JSON, none an error
	refute_output --partial '"error"'
	run bash -c "curl -sS --unix-socket '$sock' http://x/status"
	assert_output --partial '"up": true'
}

@test "tests/run runs one test file, as the README shows" {
	local cmd
	cmd=$(grep -m1 -E '^tests/run tests/[a-z0-9-]+\.bats' "$TOP/README.md" | sed 's/[[:space:]]*#.*//')
	[ -n "$cmd" ]
	cd "$TOP"
	run env -u BATS_TEST_FILTER $cmd
	assert_success
	assert_line --regexp '^[0-9]+ passed, 0 failed$'
}

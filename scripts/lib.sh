# Shell helpers shared by the build scripts. Source it; it defines functions only.

msg() { printf '>>> %s\n' "$*"; }
warn() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die() { warn "$*"; exit 1; }

# The Debian archive URIs the host's apt is configured for, one a line, in the
# order apt lists them. Both the one-line format (sources.list, *.list) and
# deb822 (*.sources) are read; security archives are left out because they
# carry no pool for ordinary packages. NESTBOX_APT_DIR is for tests.
apt_archives() {
	local dir=${NESTBOX_APT_DIR:-/etc/apt} f
	{
		for f in "$dir/sources.list" "$dir"/sources.list.d/*.list; do
			[ -r "$f" ] || continue
			sed -n -E 's/^[[:space:]]*deb(-src)?[[:space:]]+(\[[^]]*\][[:space:]]+)?([a-z]+:\/\/[^[:space:]]+)[[:space:]]+([^[:space:]]+).*/\3 \4/p' "$f"
		done
		for f in "$dir"/sources.list.d/*.sources; do
			[ -r "$f" ] || continue
			# A stanza ends at a blank line; print "URI SUITE" for each URI of
			# each enabled stanza.
			awk '
				function flush(  i, n, u) {
					if (enabled && uris != "") {
						n = split(uris, u, " ")
						for (i = 1; i <= n; i++) print u[i], suite
					}
					uris = ""; suite = ""; enabled = 1
				}
				BEGIN { enabled = 1 }
				/^[[:space:]]*#/ { next }
				/^[[:space:]]*$/ { flush(); next }
				tolower($1) == "uris:" { $1 = ""; uris = uris $0 }
				tolower($1) == "suites:" { suite = $2 }
				tolower($1) == "enabled:" && tolower($2) == "no" { enabled = 0 }
				END { flush() }
			' "$f"
		done
	} | awk '$2 !~ /-security$/ && $2 !~ /\/updates$/ { sub(/\/+$/, "", $1); print $1 }' | awk '!seen[$0]++'
}

# sha256 of a file, hex only.
sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

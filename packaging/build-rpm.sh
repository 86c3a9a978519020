#!/bin/sh
# Build the promlet .rpm and .src.rpm from a `make dist` tarball with the
# spec inside it (packaging/rpm/promlet.spec).
#
#	sh packaging/build-rpm.sh promlet-0.1.0.tar.gz [OUTDIR]
#
# `make rpm` runs it. On RHEL or Fedora plain `rpmbuild -ta TARBALL` does
# the same. On Debian (Debian's rpm package) there is no rpm database of
# the build dependencies, so they are checked with pkg-config by
# ./configure instead of by rpmbuild (--nodeps), and the test suite is
# skipped (.ci/run runs it); PROMLET_RPM_CHECK=1 runs it here too.
set -eu

usage() {
	echo "usage: $0 TARBALL [OUTDIR]" >&2
	exit 2
}

[ $# -ge 1 ] && [ $# -le 2 ] || usage
tarball=$1
out=${2:-$PWD/packages}
[ -f "$tarball" ] || { echo "$0: no such tarball: $tarball" >&2; exit 1; }
command -v rpmbuild >/dev/null 2>&1 || {
	echo "$0: rpmbuild not found: sh .ci/deps.sh packaging" >&2
	exit 1
}

base=$(basename "$tarball" .tar.gz)		# promlet-0.1.0
version=${base#promlet-}
case $base in
promlet-[0-9]*) ;;
*) echo "$0: expected promlet-VERSION.tar.gz, got $base.tar.gz" >&2; exit 1 ;;
esac

work=$(mktemp -d "${TMPDIR:-/tmp}/promlet-rpm.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
mkdir -p "$work/SOURCES" "$work/SPECS"
cp "$tarball" "$work/SOURCES/"
tar -C "$work/SPECS" -xzf "$tarball" --strip-components=3 \
    "$base/packaging/rpm/promlet.spec" || {
	echo "$0: $tarball has no packaging/rpm/promlet.spec" >&2
	exit 1
}
spec=$work/SPECS/promlet.spec
tar -tzf "$tarball" "$base/etc/promlet.yml" >/dev/null 2>&1 || {
	echo "$0: $tarball has no etc/promlet.yml (the packaged default config)" >&2
	exit 1
}

specversion=$(rpmspec -q --srpm --qf '%{version}' "$spec" 2>/dev/null ||
    sed -n 's/^Version:[[:space:]]*//p' "$spec")
[ "$specversion" = "$version" ] || {
	echo "$0: packaging/rpm/promlet.spec is at $specversion but the" \
	    "tarball is $version: bump Version: and add a %changelog entry" >&2
	exit 1
}

set -- --define "_topdir $work" --define "_smp_mflags -j$(nproc 2>/dev/null ||
    echo 1)"
[ "${PROMLET_RPM_CHECK:-0}" = 1 ] || set -- "$@" --without check
if [ -f /etc/debian_version ]; then
	# Debian's brp-compress uses bash's read -d under a #!/bin/sh line,
	# so with dash the man page would stay uncompressed.
	set -- "$@" --nodeps --define \
	    "__brp_compress /bin/bash %{_rpmconfigdir}/brp-compress %{?_prefix}"
fi
rpmbuild -ba "$@" "$spec" >"$work/build.log" 2>&1 || {
	# The compiler's command lines are long: show the errors, the end,
	# and keep the whole log.
	mkdir -p "$out"
	cp "$work/build.log" "$out/promlet-${version}.rpm-failed.build"
	grep -E '(error|Error|fatal|No such file|missing)' "$work/build.log" |
	    tail -n 15 >&2
	echo "..." >&2
	tail -n 5 "$work/build.log" | cut -c 1-300 >&2
	echo "$0: rpmbuild failed; full log:" \
	    "$out/promlet-${version}.rpm-failed.build" >&2
	exit 1
}

mkdir -p "$out"
find "$work/RPMS" "$work/SRPMS" -name '*.rpm' -exec cp {} "$out/" \;
cp "$work/build.log" "$out/promlet-$version.rpm.build"
find "$work/RPMS" -name "promlet-$version-*.rpm" ! -name '*debug*' |
    sed "s|.*/|$out/|"

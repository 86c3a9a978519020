#!/bin/sh
# Build the promlet .deb (and its source package) from a `make dist`
# tarball, as Debian would: the tarball becomes the .orig.tar.gz and
# packaging/deb from inside it becomes debian/.
#
#	sh packaging/build-deb.sh promlet-0.1.0.tar.gz [OUTDIR]
#
# `make deb` runs it. Needs dpkg-dev, debhelper and the Build-Depends of
# packaging/deb/control (sh .ci/deps.sh packaging installs them all).
# The test suite is skipped (DEB_BUILD_OPTIONS=nocheck) because .ci/run
# already runs it with sanitizers; PROMLET_DEB_CHECK=1 runs it here too.
set -eu

usage() {
	echo "usage: $0 TARBALL [OUTDIR]" >&2
	exit 2
}

[ $# -ge 1 ] && [ $# -le 2 ] || usage
tarball=$1
out=${2:-$PWD/packages}
[ -f "$tarball" ] || { echo "$0: no such tarball: $tarball" >&2; exit 1; }
for tool in dpkg-buildpackage dh; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "$0: $tool not found: sh .ci/deps.sh packaging" >&2
		exit 1
	}
done

base=$(basename "$tarball" .tar.gz)		# promlet-0.1.0
version=${base#promlet-}
case $base in
promlet-[0-9]*) ;;
*) echo "$0: expected promlet-VERSION.tar.gz, got $base.tar.gz" >&2; exit 1 ;;
esac

work=$(mktemp -d "${TMPDIR:-/tmp}/promlet-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
cp "$tarball" "$work/promlet_$version.orig.tar.gz"
tar -C "$work" -xzf "$tarball"
src=$work/$base
[ -d "$src/packaging/deb" ] || {
	echo "$0: $tarball has no packaging/deb" >&2
	exit 1
}
[ -f "$src/etc/promlet.yml" ] || {
	echo "$0: $tarball has no etc/promlet.yml (the packaged default config)" >&2
	exit 1
}
cp -a "$src/packaging/deb" "$src/debian"
chmod 0755 "$src/debian/rules"

# The package version must follow the tarball's: a release bumps
# configure.ac and packaging/deb/changelog together.
debversion=$(cd "$src" && dpkg-parsechangelog -S Version)
case $debversion in
"$version"-*) ;;
*)
	echo "$0: packaging/deb/changelog is at $debversion but the tarball is" \
	    "$version: add a changelog entry for $version-1" >&2
	exit 1
	;;
esac

opts="parallel=$(nproc 2>/dev/null || echo 1)"
[ "${PROMLET_DEB_CHECK:-0}" = 1 ] || opts="$opts nocheck"
(
	cd "$src"
	DEB_BUILD_OPTIONS="$opts" dpkg-buildpackage -us -uc
) >"$work/build.log" 2>&1 || {
	# The compiler's command lines are long: show the errors, the end,
	# and keep the whole log.
	mkdir -p "$out"
	cp "$work/build.log" "$out/promlet_${version}.deb-failed.build"
	grep -E '(error|Error|fatal|No such file|missing)' "$work/build.log" |
	    tail -n 15 >&2
	echo "..." >&2
	tail -n 5 "$work/build.log" | cut -c 1-300 >&2
	echo "$0: dpkg-buildpackage failed; full log:" \
	    "$out/promlet_${version}.deb-failed.build" >&2
	exit 1
}

mkdir -p "$out"
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
for f in "$work"/promlet_"$debversion"* "$work/promlet_$version.orig.tar.gz" \
    "$work"/promlet-dbgsym_"$debversion"_*.deb; do
	[ -e "$f" ] && cp "$f" "$out/"
done
cp "$work/build.log" "$out/promlet_${debversion}_$arch.build"
echo "$out/promlet_${debversion}_$arch.deb"

#!/bin/sh
# Debian 12 packages promlet needs to build, test and run its demo.
# Used by the README commands and by .ci/run; safe to run again.
# `sh .ci/deps.sh packaging` also installs what `make deb`, `make rpm` and
# `make package-check` need.
set -e
PKGS="build-essential autoconf automake autoconf-archive libtool pkg-config
 libcurl4-openssl-dev libevent-dev libprotobuf-c-dev protobuf-c-compiler
 libsnappy-dev libyaml-dev libpcre2-dev libjansson-dev libssl-dev zlib1g-dev
 libcmocka-dev
 prometheus prometheus-node-exporter python3 python3-snappy
 python3-cryptography curl procps python3-yaml python3-kubernetes openssl"
# kubectl for tests/e2e/k8s_manifests.sh: Debian's kubernetes-client, unless
# a kubectl is already installed (another package owning /usr/bin/kubectl
# would make the install fail).
command -v kubectl >/dev/null 2>&1 || PKGS="$PKGS kubernetes-client"
# dpkg-buildpackage and dh; rpmbuild (Debian's rpm); lintian and rpmlint;
# systemd only for systemd-analyze verify (installing it in a container is
# harmless: nothing starts without systemd as PID 1); man-db so that
# systemd-analyze and the check can resolve man:promlet(1); adduser,
# util-linux (setpriv) and file for the maintainer scripts, the check and
# rpm's brp-strip.
PKGS_PACKAGING="dpkg-dev debhelper fakeroot rpm lintian rpmlint systemd man-db
 adduser util-linux file"
[ "${1:-}" = packaging ] && PKGS="$PKGS $PKGS_PACKAGING"
# `sh .ci/deps.sh bench`: make bench (bench/run) runs VictoriaMetrics as the
# receiver and vmagent as a peer, and reads its answers with jq; -p profiles
# with perf, -C counts instructions with valgrind.
PKGS_BENCH="victoria-metrics linux-perf jq valgrind"
[ "${1:-}" = bench ] && PKGS="$PKGS $PKGS_BENCH"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
	    missing="$missing $p"
done
if [ -n "$missing" ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# The Debian prometheus packages start services under systemd; a
	# container without systemd just skips that.
	apt-get install -y -qq --no-install-recommends $missing
fi

#!/bin/sh
# Debian 12 packages promlet needs to build, test and run its demo.
# Used by the README commands and by .ci/run; safe to run again.
set -e
PKGS="build-essential autoconf automake autoconf-archive libtool pkg-config
 libcurl4-openssl-dev libevent-dev libprotobuf-c-dev protobuf-c-compiler
 libsnappy-dev libyaml-dev libpcre2-dev libjansson-dev libssl-dev libcmocka-dev
 prometheus prometheus-node-exporter python3 python3-snappy curl procps"
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

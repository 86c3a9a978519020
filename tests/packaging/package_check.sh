#!/bin/sh
# The package check (`make package-check`; slow, so not part of make check):
# builds the .deb from the `make dist` tarball, lints it, installs it on
# this machine, runs the installed promlet as the promlet user with the
# packaged config, upgrades, removes and purges it, checking what a Debian
# administrator expects at each step; then builds the .rpm and inspects it.
#
#	sh tests/packaging/package_check.sh TARBALL [OUTDIR]
#
# Needs root for the install steps (they are skipped otherwise) and the
# tools of `sh .ci/deps.sh packaging`. The machine is left as it was: the
# package is purged, and the promlet account removed if this script made it.
#
# PACKAGE_CHECK_SKIP="runtime rpm ..." skips steps by name: deb, lint,
# install, runtime, upgrade, remove, rpm. Every check prints "ok", "FAIL" or
# "skip"; the last line counts them, and the exit status is 1 if any failed.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
PY=/usr/bin/python3

[ $# -ge 1 ] && [ $# -le 2 ] || {
	echo "usage: $0 TARBALL [OUTDIR]" >&2
	exit 2
}
tarball=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
out=${2:-$PWD/packages}
mkdir -p "$out" && out=$(cd "$out" && pwd)
base=$(basename "$tarball" .tar.gz)
version=${base#promlet-}

T=$(mktemp -d "${TMPDIR:-/tmp}/promlet-pkgcheck.XXXXXX")
chmod 0755 "$T"		# the promlet user must reach the notify socket
npass=0
nfail=0
nskip=0
installed_by_us=0
user_made_by_us=0
daemon_pid=""
notify_pid=""

cleanup() {
	[ -n "$daemon_pid" ] && kill -KILL "$daemon_pid" 2>/dev/null
	[ -n "$notify_pid" ] && kill "$notify_pid" 2>/dev/null
	if [ "$installed_by_us" = 1 ] &&
	    dpkg-query -W -f='${db:Status-Status}' promlet 2>/dev/null |
	    grep -q -v '^not-installed$'; then
		dpkg --purge promlet >/dev/null 2>&1
	fi
	if [ "$user_made_by_us" = 1 ] && getent passwd promlet >/dev/null; then
		userdel promlet >/dev/null 2>&1
		getent group promlet >/dev/null && groupdel promlet 2>/dev/null
	fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() {
	npass=$((npass + 1))
	echo "ok   - $*"
}

bad() {
	nfail=$((nfail + 1))
	echo "FAIL - $*"
}

skipped() {
	nskip=$((nskip + 1))
	echo "skip - $*"
}

# check DESCRIPTION COMMAND...: run it, count it, show its output on failure.
check() {
	desc=$1
	shift
	if "$@" >"$T/check.out" 2>&1; then
		ok "$desc"
	else
		bad "$desc"
		tail -n 25 "$T/check.out" | sed 's/^/       /'
	fi
}

wanted() {
	case " ${PACKAGE_CHECK_SKIP:-} " in
	*" $1 "*) return 1 ;;
	esac
	return 0
}

section() {
	echo "== $*"
}

# mode OWNER:GROUP of a path, as stat prints it: "750 root:promlet".
perms() {
	stat -c '%a %U:%G' "$1" 2>/dev/null
}

is_perms() {
	got=$(perms "$1")
	[ "$got" = "$2" ] || { echo "$1: $got, want $2"; return 1; }
}

has_line() {
	grep -q -x -F -e "$2" "$1" || {
		echo "no line '$2' in:"
		cat "$1"
		return 1
	}
}

contains() {
	grep -q -F -e "$2" "$1" || {
		echo "no '$2' in:"
		cat "$1"
		return 1
	}
}

absent() {
	[ ! -e "$1" ] && [ ! -L "$1" ] || {
		echo "$1 still exists"
		ls -la "$1"
		return 1
	}
}

free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

http_code() {
	curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1"
}

wait_ready() {
	i=0
	while [ $i -lt 150 ]; do
		[ "$(http_code "$1")" = 200 ] && return 0
		kill -0 "$daemon_pid" 2>/dev/null || return 1
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# ---- build the .deb ----------------------------------------------------
deb=""
if wanted deb; then
	section "build the .deb from $base.tar.gz"
	if sh "$top/packaging/build-deb.sh" "$tarball" "$out" >"$T/deb.out" 2>&1; then
		deb=$(tail -n 1 "$T/deb.out")
		ok "dpkg-buildpackage builds $(basename "$deb")"
	else
		bad "dpkg-buildpackage"
		tail -n 40 "$T/deb.out" | sed 's/^/       /'
	fi
fi

if [ -n "$deb" ]; then
	dpkg-deb -c "$deb" | awk '{ print $NF }' | sed 's|^\./|/|' \
	    >"$T/deb.files"
	for f in /usr/bin/promlet /etc/promlet/promlet.yml /etc/default/promlet \
	    /lib/systemd/system/promlet.service /usr/share/man/man1/promlet.1.gz \
	    /usr/lib/sysusers.d/promlet.conf /usr/share/doc/promlet/copyright; do
		check "deb ships $f" has_line "$T/deb.files" "$f"
	done
	check "deb ships the install guide" \
	    grep -q '^/usr/share/doc/promlet/install\.md' "$T/deb.files"
	check "deb ships the example configs" \
	    grep -q '^/usr/share/doc/promlet/examples/.*\.yml$' "$T/deb.files"
	# Shipping the WAL directory would make dpkg delete it on remove.
	check "deb does not ship /var/lib/promlet" \
	    sh -c "! grep -q '^/var/lib/promlet' '$T/deb.files'"
	mkdir -p "$T/ctrl"
	dpkg-deb -e "$deb" "$T/ctrl"
	check "conffile /etc/promlet/promlet.yml" \
	    has_line "$T/ctrl/conffiles" /etc/promlet/promlet.yml
	check "conffile /etc/default/promlet" \
	    has_line "$T/ctrl/conffiles" /etc/default/promlet
	for s in postinst postrm prerm; do
		[ -f "$T/ctrl/$s" ] && check "$s is valid sh" sh -n "$T/ctrl/$s"
	done
	dpkg-deb -f "$deb" Depends >"$T/depends"
	check "Depends on adduser (postinst uses it)" contains "$T/depends" adduser
fi

# ---- lintian -----------------------------------------------------------
if wanted lint && [ -n "$deb" ]; then
	section "lintian"
	changes=$(ls "$out"/promlet_*_"$(dpkg-architecture -qDEB_HOST_ARCH)".changes \
	    2>/dev/null | tail -n 1)
	if ! command -v lintian >/dev/null 2>&1; then
		skipped "lintian not installed (sh .ci/deps.sh packaging)"
	else
		# Every tag that remains is overridden, with the reason, in
		# packaging/deb/promlet.lintian-overrides and
		# packaging/deb/source/lintian-overrides.
		check "lintian (error, warning, info and pedantic tags) is clean" \
		    lintian --fail-on error,warning,info,pedantic -I --pedantic \
		    "$changes"
	fi
fi

# ---- install -----------------------------------------------------------
can_install=1
if [ "$(id -u)" != 0 ]; then
	can_install=0
	why="not root"
elif [ -z "$deb" ]; then
	can_install=0
	why="no .deb"
elif dpkg-query -W -f='${db:Status-Status}' promlet 2>/dev/null |
    grep -q -v '^not-installed$' && [ "${PACKAGE_CHECK_FORCE:-0}" != 1 ]; then
	# Never purge someone's real installation; PACKAGE_CHECK_FORCE=1 does.
	can_install=0
	why="promlet is already installed on this machine"
fi

if wanted install && [ $can_install = 1 ]; then
	section "install $(basename "$deb")"
	getent passwd promlet >/dev/null || user_made_by_us=1
	installed_by_us=1
	if DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    --no-install-recommends "$deb" >"$T/install.out" 2>&1 ||
	    dpkg -i "$deb" >>"$T/install.out" 2>&1; then
		ok "apt-get install ./$(basename "$deb")"
	else
		bad "install"
		tail -n 30 "$T/install.out" | sed 's/^/       /'
	fi

	for f in /usr/bin/promlet /etc/promlet/promlet.yml /etc/default/promlet \
	    /lib/systemd/system/promlet.service /usr/lib/sysusers.d/promlet.conf; do
		check "$f installed" test -f "$f"
	done
	check "promlet --version is $version" \
	    sh -c "/usr/bin/promlet --version | grep -q -F ' $version'"
	check "man promlet finds the page" sh -c 'man -w promlet | grep -q promlet.1'

	getent passwd promlet >"$T/passwd"
	check "system user promlet exists" test -s "$T/passwd"
	check "promlet is a system uid (< 1000)" \
	    awk -F: '{ exit !($3 < 1000) }' "$T/passwd"
	check "promlet's home is /var/lib/promlet" \
	    awk -F: '{ exit !($6 == "/var/lib/promlet") }' "$T/passwd"
	check "promlet cannot log in" \
	    awk -F: '{ exit !($7 ~ /(nologin|false)$/) }' "$T/passwd"
	check "group promlet exists" getent group promlet
	check "promlet's primary group is promlet" \
	    sh -c '[ "$(id -gn promlet)" = promlet ]'

	check "/etc/promlet is 750 root:promlet" \
	    is_perms /etc/promlet "750 root:promlet"
	check "/var/lib/promlet is 750 promlet:promlet" \
	    is_perms /var/lib/promlet "750 promlet:promlet"
	check "promlet can read its config" \
	    setpriv --reuid=promlet --regid=promlet --init-groups \
	    test -r /etc/promlet/promlet.yml
	check "other users cannot read the config" \
	    sh -c '! setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    cat /etc/promlet/promlet.yml >/dev/null 2>&1'
	# A fresh install must not send anywhere until the administrator
	# says where: remote_write stays a commented example.
	check "the packaged config has no active remote_write" \
	    sh -c "! grep -n '^remote_write:' /etc/promlet/promlet.yml"
	check "promlet check config accepts the packaged config (as promlet)" \
	    sh -c "setpriv --reuid=promlet --regid=promlet --init-groups \
	    /usr/bin/promlet check config /etc/promlet/promlet.yml 2>&1 |
	    tee /dev/stderr | grep -q '^SUCCESS'"

	dpkg-query -W -f='${Conffiles}\n' promlet >"$T/conffiles"
	check "dpkg knows both conffiles" sh -c \
	    "grep -q ' /etc/promlet/promlet.yml ' '$T/conffiles' &&
	    grep -q ' /etc/default/promlet ' '$T/conffiles'"
	check "the service is enabled (multi-user.target.wants)" test -L \
	    /etc/systemd/system/multi-user.target.wants/promlet.service

	if command -v systemd-analyze >/dev/null 2>&1; then
		# Resolves every directive, the executable, the user and
		# man:promlet(1). Works without systemd as PID 1.
		check "systemd-analyze verify promlet.service" sh -c \
		    "systemd-analyze verify /lib/systemd/system/promlet.service 2>&1 |
		    tee /dev/stderr | grep -q . && exit 1; exit 0"
		if systemd-analyze security --offline=yes \
		    /lib/systemd/system/promlet.service >"$T/security" 2>&1; then
			level=$(sed -n 's/.*Overall exposure level for [^:]*: //p' \
			    "$T/security")
			echo "       systemd-analyze security: $level"
			# "OK" is the best band systemd gives a service that
			# needs the network; anything worse is a regression.
			check "systemd-analyze security rates the unit OK" \
			    sh -c "echo '$level' | grep -q -E ' (OK|SAFE)'"
		fi
	else
		skipped "systemd-analyze verify (systemd not installed)"
	fi
elif wanted install; then
	skipped "install and everything after it: $why"
fi

is_installed() {
	dpkg-query -W -f='${db:Status-Status}' promlet 2>/dev/null |
	    grep -q '^installed$'
}

# ---- run the installed daemon ------------------------------------------
if wanted runtime && [ $can_install = 1 ] && wanted install && is_installed; then
	section "run /usr/bin/promlet as the promlet user for a few seconds"
	if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
		# systemd started the packaged service on install: stop it so
		# the test instance owns the WAL directory.
		systemctl stop promlet.service 2>/dev/null
	fi

	# Every flag the man page documents must exist in the binary.
	zcat /usr/share/man/man1/promlet.1.gz | sed 's/\\-/-/g' |
	    sed -n 's/^\.It Fl \(-[a-z][a-z0-9.-]*\).*/-\1/p' | sort -u \
	    >"$T/manflags"
	/usr/bin/promlet --help >"$T/help" 2>&1
	missing=""
	for f in $(cat "$T/manflags"); do
		grep -q -F -e "$f" "$T/help" || missing="$missing $f"
	done
	check "every flag in promlet(1) is in promlet --help" \
	    sh -c "[ -z '$missing' ] || { echo 'missing:$missing'; exit 1; }"

	# MemoryDenyWriteExecute=yes, imitated with prctl(PR_SET_MDWE)
	# (Linux >= 6.3; inherited across exec): W+X mappings are refused, so
	# PCRE2's JIT cannot get executable memory and promlet must fall back
	# to the interpreter with the same results.
	wx="$PY -c 'import ctypes, os, sys; ctypes.CDLL(None).prctl(65, 1, 0, 0, 0); os.execv(sys.argv[1], sys.argv[1:])'"
	$PY -c 'import ctypes, sys; sys.exit(ctypes.CDLL(None).prctl(65, 1, 0, 0, 0) != 0)' &&
	    mdwe_ok=1 || mdwe_ok=0
	cat >"$T/relabel.yml" <<'EOF'
scrape_configs:
  - job_name: j
    static_configs:
      - targets: ['127.0.0.1:1']
    metric_relabel_configs:
      - source_labels: [__name__]
        regex: 'go_.*'
        action: drop
      - source_labels: [path]
        regex: '/api/(.*)'
        target_label: api
        replacement: '$1'
EOF
	if [ $mdwe_ok = 1 ]; then
		check "relabel under W^X: drop rule" sh -c \
		    "$wx /usr/bin/promlet debug relabel -c '$T/relabel.yml' --job j \
		    'go_gc_duration_seconds{a=\"1\"}' | tee /dev/stderr | grep -qx dropped"
		check "relabel under W^X: replace with a capture group" sh -c \
		    "$wx /usr/bin/promlet debug relabel -c '$T/relabel.yml' --job j \
		    'http_requests_total{path=\"/api/users\"}' | tee /dev/stderr |
		    grep -q 'api=\"users\"'"
	else
		skipped "relabel under W^X (kernel without PR_SET_MDWE)"
	fi

	# The flags the unit passes, then $ARGS from /etc/default/promlet,
	# then our port: the last --web.listen-address must win. A short
	# flush deadline: the packaged config's receiver may not exist here,
	# and SIGTERM waits that long for it.
	args=$(. /etc/default/promlet; printf '%s' "${ARGS:-}")
	port=$(free_port)
	sock=$T/notify.sock
	$PY - "$sock" "$T/notify.msgs" <<'EOF' &
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)
s.settimeout(0.5)
end = time.time() + 60
with open(sys.argv[2], "w") as f:
    while time.time() < end:
        try:
            f.write(s.recv(4096).decode(errors="replace").replace("\n", " ") + "\n")
            f.flush()
        except socket.timeout:
            pass
EOF
	notify_pid=$!
	i=0
	while [ ! -S "$sock" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done

	if [ $mdwe_ok = 1 ]; then
		echo "       running under PR_SET_MDWE (W^X, as MemoryDenyWriteExecute=yes)"
		env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin NOTIFY_SOCKET="$sock" \
		    setpriv --reuid=promlet --regid=promlet --init-groups \
		    --no-new-privs \
		    $PY -c 'import ctypes, os, sys; ctypes.CDLL(None).prctl(65, 1, 0, 0, 0); os.execv(sys.argv[1], sys.argv[1:])' \
		    /usr/bin/promlet --config.file=/etc/promlet/promlet.yml \
		    --storage.agent.path=/var/lib/promlet $args \
		    --web.listen-address=127.0.0.1:"$port" \
		    --storage.remote.flush-deadline=5s >"$T/promlet.log" 2>&1 &
	else
		env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin NOTIFY_SOCKET="$sock" \
		    setpriv --reuid=promlet --regid=promlet --init-groups \
		    --no-new-privs \
		    /usr/bin/promlet --config.file=/etc/promlet/promlet.yml \
		    --storage.agent.path=/var/lib/promlet $args \
		    --web.listen-address=127.0.0.1:"$port" \
		    --storage.remote.flush-deadline=5s >"$T/promlet.log" 2>&1 &
	fi
	daemon_pid=$!

	if wait_ready "http://127.0.0.1:$port/-/ready"; then
		ok "/-/ready answers 200 on 127.0.0.1:$port"
		check "/-/healthy answers 200" \
		    sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$port/-/healthy)\" = 200 ]"
		check "/metrics serves the text format" sh -c \
		    "curl -fsS http://127.0.0.1:$port/metrics | grep -q '^# TYPE '"
		check "the daemon runs as promlet" sh -c \
		    "[ \"\$(ps -o user= -p $daemon_pid)\" = promlet ]"
		check "the WAL is written to /var/lib/promlet" sh -c \
		    "[ -n \"\$(find /var/lib/promlet -mindepth 1 -user promlet | head -n 1)\" ]"

		sleep 0.5
		if grep -q '^READY=1' "$T/notify.msgs" 2>/dev/null; then
			ok "sends READY=1 to \$NOTIFY_SOCKET"
			grep -q '^Type=notify' /lib/systemd/system/promlet.service ||
			    echo "       note: promlet.service can now be Type=notify"
		elif grep -q '^Type=notify' /lib/systemd/system/promlet.service; then
			bad "the unit is Type=notify but promlet sent no READY=1"
		else
			skipped "no READY=1 on \$NOTIFY_SOCKET (the unit is Type=simple)"
		fi

		kill -HUP "$daemon_pid"
		sleep 1
		check "still running after SIGHUP (reload)" kill -0 "$daemon_pid"
		check "/-/ready is 200 after the reload" sh -c \
		    "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$port/-/ready)\" = 200 ]"

		kill -TERM "$daemon_pid"
		i=0
		while kill -0 "$daemon_pid" 2>/dev/null && [ $i -lt 150 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		if kill -0 "$daemon_pid" 2>/dev/null; then
			bad "promlet did not exit within 15 s of SIGTERM (flush deadline 5s)"
			tail -n 15 "$T/promlet.log" | sed 's/^/       /'
		else
			wait "$daemon_pid"
			rc=$?
			check "SIGTERM: exit status 0 (got $rc)" test "$rc" = 0
			daemon_pid=""
		fi
	else
		if kill -0 "$daemon_pid" 2>/dev/null; then
			bad "/-/ready did not answer 200 within 15 s"
		else
			wait "$daemon_pid"
			bad "promlet exited with status $? before /-/ready answered 200"
			daemon_pid=""
		fi
		echo "       --- promlet log (last 25 lines)"
		tail -n 25 "$T/promlet.log" | sed 's/^/       /'
	fi
	[ -n "$daemon_pid" ] && kill -KILL "$daemon_pid" 2>/dev/null
	daemon_pid=""
	kill "$notify_pid" 2>/dev/null
	notify_pid=""
fi

# ---- upgrade: config and WAL are kept ----------------------------------
if wanted upgrade && [ $can_install = 1 ] && wanted install && is_installed; then
	section "upgrade to a newer version of the same package"
	echo "# changed by package_check" >>/etc/promlet/promlet.yml
	echo "# changed by package_check" >>/etc/default/promlet
	echo kept >/var/lib/promlet/package-check.marker
	cp /etc/promlet/promlet.yml "$T/yml.before"
	uid_before=$(id -u promlet)

	# The same files as a newer version: what `apt upgrade` does when the
	# shipped conffiles did not change.
	dpkg-deb -R "$deb" "$T/newer"
	sed -i "s/^Version: .*/&.1/" "$T/newer/DEBIAN/control"
	newver=$(sed -n 's/^Version: //p' "$T/newer/DEBIAN/control")
	dpkg-deb --root-owner-group -b "$T/newer" "$T/newer.deb" >/dev/null
	check "dpkg -i upgrades to $newver without questions" sh -c \
	    "DEBIAN_FRONTEND=noninteractive dpkg -i '$T/newer.deb' </dev/null"
	check "the installed version is $newver" sh -c \
	    "[ \"\$(dpkg-query -W -f='\${Version}' promlet)\" = '$newver' ]"
	check "the local change to promlet.yml is kept" \
	    cmp /etc/promlet/promlet.yml "$T/yml.before"
	check "the local change to /etc/default/promlet is kept" \
	    contains /etc/default/promlet "# changed by package_check"
	check "the WAL is kept" test -f /var/lib/promlet/package-check.marker
	check "/etc/promlet is still 750 root:promlet" \
	    is_perms /etc/promlet "750 root:promlet"
	check "the promlet uid did not change" \
	    sh -c "[ \"\$(id -u promlet)\" = '$uid_before' ]"
fi

# ---- remove, then purge ------------------------------------------------
if wanted remove && [ $can_install = 1 ] && wanted install && is_installed; then
	section "remove, then purge"
	[ -f /var/lib/promlet/package-check.marker ] ||
	    echo kept >/var/lib/promlet/package-check.marker
	check "dpkg --remove promlet" dpkg --remove promlet
	check "status is config-files" sh -c \
	    "[ \"\$(dpkg-query -W -f='\${db:Status-Status}' promlet)\" = config-files ]"
	check "remove deletes /usr/bin/promlet" absent /usr/bin/promlet
	check "remove deletes the unit" absent /lib/systemd/system/promlet.service
	check "remove keeps /etc/promlet/promlet.yml" test -f /etc/promlet/promlet.yml
	check "remove keeps /etc/default/promlet" test -f /etc/default/promlet
	check "remove keeps the WAL" test -f /var/lib/promlet/package-check.marker
	check "remove keeps the promlet user" getent passwd promlet

	check "dpkg --purge promlet" dpkg --purge promlet
	check "purge deletes /etc/promlet" absent /etc/promlet
	check "purge deletes /etc/default/promlet" absent /etc/default/promlet
	check "purge deletes the WAL /var/lib/promlet" absent /var/lib/promlet
	check "purge removes the enablement symlink" absent \
	    /etc/systemd/system/multi-user.target.wants/promlet.service
	check "dpkg forgets the package" sh -c \
	    "! dpkg-query -W -f='\${db:Status-Status}' promlet 2>/dev/null | grep -q -v not-installed"
	# Debian keeps system accounts on purge (see postrm); cleanup()
	# deletes it afterwards when this script created it.
	check "purge keeps the promlet user (Debian practice)" getent passwd promlet
fi

# ---- rpm -----------------------------------------------------------------
if wanted rpm; then
	section "build and inspect the .rpm"
	if ! command -v rpmbuild >/dev/null 2>&1; then
		skipped "rpmbuild not installed (sh .ci/deps.sh packaging)"
	elif sh "$top/packaging/build-rpm.sh" "$tarball" "$out" >"$T/rpm.out" 2>&1; then
		rpmfile=$(tail -n 1 "$T/rpm.out")
		ok "rpmbuild builds $(basename "$rpmfile")"
		rpm -qlp "$rpmfile" >"$T/rpm.files" 2>/dev/null
		for f in /usr/bin/promlet /etc/promlet/promlet.yml \
		    /etc/sysconfig/promlet /usr/lib/systemd/system/promlet.service \
		    /usr/lib/sysusers.d/promlet.conf /usr/share/man/man1/promlet.1.gz \
		    /var/lib/promlet; do
			check "rpm ships $f" has_line "$T/rpm.files" "$f"
		done
		rpm -qp --qf '[%{FILEFLAGS:fflags} %{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILENAMES}\n]' \
		    "$rpmfile" >"$T/rpm.attrs" 2>/dev/null
		check "promlet.yml is %config(noreplace) 0640 root:promlet" \
		    has_line "$T/rpm.attrs" "cn -rw-r----- root:promlet /etc/promlet/promlet.yml"
		check "/etc/sysconfig/promlet is %config(noreplace)" \
		    has_line "$T/rpm.attrs" "cn -rw-r--r-- root:root /etc/sysconfig/promlet"
		check "/etc/promlet is 0750 root:promlet" \
		    has_line "$T/rpm.attrs" " drwxr-x--- root:promlet /etc/promlet"
		check "/var/lib/promlet is 0750 promlet:promlet" \
		    has_line "$T/rpm.attrs" " drwxr-x--- promlet:promlet /var/lib/promlet"
		rpm -qp --scripts "$rpmfile" >"$T/rpm.scripts" 2>/dev/null
		check "%pre creates the promlet user" contains "$T/rpm.scripts" "useradd -r -g promlet"
		check "%post presets the unit" contains "$T/rpm.scripts" "preset promlet.service"
		check "%preun stops and disables on erase" contains "$T/rpm.scripts" "disable --now promlet.service"
		check "%postun restarts on upgrade" contains "$T/rpm.scripts" "try-restart promlet.service"
		rpm -qpR "$rpmfile" >"$T/rpm.requires" 2>/dev/null
		check "Requires(pre) useradd" has_line "$T/rpm.requires" /usr/sbin/useradd
		if command -v rpmlint >/dev/null 2>&1; then
			# Every filter in rpmlint.toml carries its reason.
			srpm=$(ls "$out"/promlet-"$version"-*.src.rpm | tail -n 1)
			check "rpmlint is clean (0 errors, 0 warnings)" sh -c \
			    "rpmlint -c '$top/packaging/rpm/rpmlint.toml' '$rpmfile' '$srpm' \
			    '$top/packaging/rpm/promlet.spec' 2>&1 | tee /dev/stderr |
			    grep -q ' 0 errors, 0 warnings'"
		else
			skipped "rpmlint not installed"
		fi
	else
		bad "rpmbuild"
		tail -n 40 "$T/rpm.out" | sed 's/^/       /'
	fi
fi

echo "package-check: $npass passed, $nfail failed, $nskip skipped"
[ "$nfail" = 0 ]

"""Loopback ports for tests that run side by side (make -j).

    ports.py take N OWNER_PID LIST_FILE   print N ports, each reserved
    ports.py release LIST_FILE            give back the ports listed

A port the kernel hands out for bind(port 0) is free only until the next
bind or connect: another test, or any outgoing connection, may take it
before the server meant for it starts. So ports come from below the
kernel's ephemeral range (which outgoing connections use), and each is
reserved by creating a directory named for it in a directory shared by
all tests (mkdir is atomic), holding the owner's pid. A reservation whose
owner is gone is taken over, renamed out of the way first so that two
tests cannot both take it.
"""
import errno
import os
import random
import socket
import sys

DIR = os.environ.get("PROMLET_PORTS_DIR") or os.path.join(
    os.environ.get("TMPDIR") or "/tmp", "promlet-ports")


def ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def owner(path):
    try:
        with open(os.path.join(path, "owner")) as f:
            return int(f.read().strip() or "0")
    except (OSError, ValueError):
        return 0


def reserve(port, pid):
    path = os.path.join(DIR, str(port))
    try:
        os.mkdir(path)
    except FileExistsError:
        # No owner file yet may be a reservation being made right now.
        o = owner(path)
        if o == 0 or alive(o):
            return False
        tomb = os.path.join(DIR, ".stale.%d.%d" % (os.getpid(), port))
        try:
            os.rename(path, tomb)
        except OSError:
            return False
        for name in os.listdir(tomb):
            os.unlink(os.path.join(tomb, name))
        os.rmdir(tomb)
        try:
            os.mkdir(path)
        except FileExistsError:
            return False
    with open(os.path.join(path, "owner"), "w") as f:
        f.write("%d\n" % pid)
    return True


def bindable(port):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def release(path):
    try:
        for name in os.listdir(path):
            os.unlink(os.path.join(path, name))
        os.rmdir(path)
    except OSError as e:
        if e.errno != errno.ENOENT:
            raise


def take(n, pid, listfile):
    os.makedirs(DIR, mode=0o1777, exist_ok=True)
    hi = ephemeral_low() - 1
    lo = max(1024, hi - 12000)
    # From a random place, so that tests starting together rarely race
    # for one port, then through the whole range once.
    span = hi - lo + 1
    start = random.randrange(span)
    got = []
    for i in range(span):
        port = lo + (start + i) % span
        if not reserve(port, pid):
            continue
        if not bindable(port):
            release(os.path.join(DIR, str(port)))
            continue
        got.append(port)
        if len(got) == n:
            break
    else:
        for port in got:
            release(os.path.join(DIR, str(port)))
        sys.exit("ports.py: fewer than %d free ports in %d-%d" % (n, lo, hi))
    with open(listfile, "a") as f:
        f.write("".join("%d\n" % p for p in got))
    print(" ".join(str(p) for p in got))


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "take":
        take(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    elif len(sys.argv) == 3 and sys.argv[1] == "release":
        try:
            with open(sys.argv[2]) as f:
                ports = f.read().split()
        except FileNotFoundError:
            return
        for p in ports:
            release(os.path.join(DIR, p))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()

"""What the fake servers of the tests share: telling the test where they
listen, and serving until SIGTERM or SIGINT.

The port file is written whole and renamed into place, so a test that
waits for it to be non-empty never reads half of it.
"""

import os
import signal
import threading


def write_port_file(path, text):
    """Write text to path atomically."""
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.rename(tmp, path)


def serve_until_signal(servers, stop=None):
    """Serve each server on a thread of its own until SIGTERM or SIGINT
    (or until stop, an Event the caller may also watch, is set)."""
    if stop is None:
        stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    for srv in servers:
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    stop.wait()

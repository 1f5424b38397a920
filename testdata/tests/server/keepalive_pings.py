#!/usr/bin/env python3
"""A grpcio client that pings far too often, for tests/server/keepalive.rs.

  keepalive_pings.py TARGET

connects with keepalive pings every 100 ms, also without calls and without
data (grpcio itself sends at most one ping a second), makes no call, and
prints:
  "ready" once the connection is up;
  "left READY for <STATE> after <SECONDS> s" when the connection drops, or
  "still READY after 10 s" if it never does.

When the server answers with GOAWAY ENHANCE_YOUR_CALM "too_many_pings",
grpc-core logs on stderr, at ERROR level (shown by default), the line
  Received a GOAWAY with error code ENHANCE_YOUR_CALM and debug data equal
  to "too_many_pings"
which it writes for that GOAWAY and no other; the test looks for it there.
"""

import sys
import threading
import time

import grpc

OPTIONS = [
    ("grpc.keepalive_time_ms", 100),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
]


def say(*words):
    """One line on stdout, flushed at once: the Rust test reads line by line."""
    print(*words, flush=True)


def main(target):
    left_ready = threading.Event()
    state = {"ready_at": None, "now": None}

    def watch(connectivity):
        state["now"] = connectivity
        if connectivity == grpc.ChannelConnectivity.READY:
            state["ready_at"] = time.monotonic()
        elif state["ready_at"] is not None:
            left_ready.set()

    with grpc.insecure_channel(target, options=OPTIONS) as channel:
        channel.subscribe(watch, try_to_connect=True)
        grpc.channel_ready_future(channel).result(timeout=10)
        say("ready")
        if left_ready.wait(timeout=10):
            elapsed = time.monotonic() - state["ready_at"]
            say("left READY for", state["now"].name, f"after {elapsed:.1f} s")
        else:
            say("still READY after 10 s")
        channel.unsubscribe(watch)


if __name__ == "__main__":
    main(sys.argv[1])

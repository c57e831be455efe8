"""The guard: a relay between the grader's kernel client and a grading kernel, whose memory is capped.

ZeroMQ caps frames (MAXMSGSIZE), not messages, and takes a message in whole, all its frames, before
any of it can be read: a kernel that sends one message of many frames, each under the cap, could
otherwise make the grading process hold gigabytes before it counts a byte. So the client
(`graders.runner.wire.MeteredClient`) reaches the kernel's shell and iopub sockets through this
process, run outside the sandbox:

    python -m graders.runner.guard MEMORY FRAME SHELL_FRONT SHELL_KERNEL IOPUB_FRONT IOPUB_KERNEL

Its data may grow to MEMORY bytes (RLIMIT_DATA) and its sockets refuse a frame over FRAME bytes. A
message too large for either ends its connection to the kernel for good (ZeroMQ reconnects only a
connection whose peer went away): the guard then exits with status `REFUSED`, which the client reads as
the output cap exceeded. It prints "ready" once its front sockets are bound, and exits when its stdin
closes (the grader gone).
"""

from __future__ import annotations

import os
import resource
import struct
import sys
import threading

import zmq

REFUSED = 3
RETRY_MS = 100  # how long a dropped connection has to show that it retries (a kernel gone, not a refusal)
FRONT_QUEUE = 4  # messages held for the client; past it, the kernel's side holds them


def relay(context: zmq.Context, front_type: int, front: str, back_type: int, back: str) -> zmq.Socket:
    """Relay between a socket bound at `front` and one connected to the kernel at `back`; the latter's monitor."""
    sockets = context.socket(front_type), context.socket(back_type)
    if front_type == zmq.XPUB:  # hold, rather than drop, what the client has not read yet
        sockets[0].setsockopt(zmq.XPUB_NODROP, 1)
        sockets[0].setsockopt(zmq.SNDHWM, FRONT_QUEUE)
    sockets[0].bind(front)
    monitor = sockets[1].get_monitor_socket(zmq.EVENT_DISCONNECTED | zmq.EVENT_CONNECT_RETRIED)
    sockets[1].connect(back)
    threading.Thread(target=zmq.proxy, args=sockets, daemon=True).start()
    return monitor


def watch(monitors: list[zmq.Socket]) -> None:
    """Return once a connection to the kernel has dropped without retrying."""
    poller = zmq.Poller()
    for monitor in monitors:
        poller.register(monitor, zmq.POLLIN)
    dropped = set()
    while True:
        ready = dict(poller.poll(RETRY_MS if dropped else None))
        if dropped and not ready:
            return
        for monitor in ready:
            event = struct.unpack("=H", monitor.recv_multipart()[0][:2])[0]  # ZMQ's event frame: uint16 event, uint32 value
            (dropped.add if event == zmq.EVENT_DISCONNECTED else dropped.discard)(monitor)


def main(memory: str, frame: str, shell_front: str, shell_kernel: str, iopub_front: str, iopub_kernel: str) -> None:
    resource.setrlimit(resource.RLIMIT_DATA, (int(memory), int(memory)))
    context = zmq.Context()
    context.setsockopt(zmq.MAXMSGSIZE, int(frame))
    monitors = [
        relay(context, zmq.ROUTER, shell_front, zmq.DEALER, shell_kernel),
        relay(context, zmq.XPUB, iopub_front, zmq.XSUB, iopub_kernel),
    ]
    threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
    print("ready", flush=True)
    watch(monitors)
    os._exit(REFUSED)


if __name__ == "__main__":
    main(*sys.argv[1:])

"""`MeteredClient`: the grader's kernel client, whose memory the grader bounds, whatever the kernel sends.

A grading kernel runs a submission's code, so every message it sends is hostile until read. The client

* opens only the shell and iopub channels: the grader asks nothing on stdin or control and needs no
  heartbeat (its kernel manager says whether the kernel lives), so no socket fills up unread;
* reaches them through the guard (`graders.runner.guard`), a relay in a process of its own whose
  memory is capped: ZeroMQ takes a message in whole, all its frames, before any of it can be read,
  and caps frames, not messages, so a message of many frames would otherwise be held here before
  a byte of it was counted. A message too large for the guard ends it, and the client tells `refused`:
  `is_alive` says no, and the executor ends the cell as at any other limit;
* refuses, unread, any frame over `max_message_bytes` (ZeroMQ's MAXMSGSIZE) and holds at most
  `MAX_QUEUED` unread messages (the guard holds the next ones, the kernel the rest);
* hands the size of every message, all its frames, to `received` before decoding it: a message that
  `received` refuses (it returns False) is dropped undecoded;
* hands a message that it cannot read as the protocol says (`unreadable_because`) to `unreadable`, and
  drops it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

import zmq
import zmq.asyncio
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from traitlets import Callable, Integer, Type, default

MAX_QUEUED = 1  # unread messages the client's socket holds; the guard holds the next ones, the kernel the rest
GUARD_MEMORY = 128 << 20  # bytes of data the guard may hold (about 55 MiB its own): a message larger than the rest is refused
CHANNELS = ("shell", "iopub")


class MeteredChannel(AsyncZMQSocketChannel):
    """A channel that meters each message before decoding it, and checks it once decoded (see the module)."""

    client: MeteredClient

    async def get_msg(self, timeout: float | None = None) -> dict:
        while True:  # a dropped message is not an answer: wait for the next (the kernel is being stopped)
            message = await super().get_msg(timeout)
            if message is not None:
                return message

    async def _recv(self, **kwargs) -> dict | None:
        frames = await self.socket.recv_multipart(copy=False, **kwargs)  # ZeroMQ's buffers, not copied
        if not self.client.received(sum(map(len, frames))):
            return None
        try:
            _, signed = self.session.feed_identities(frames, copy=False)
            message = self.session.deserialize(signed, copy=False)
            problem = unreadable_because(message)
        except Exception as error:  # whatever a malformed message makes the decoder raise
            problem = f"one that could not be decoded, {type(error).__name__}: {str(error)[:200]}"
        if problem:
            self.client.unreadable(problem)
            return None
        return message


class Guard:
    """A started guard (`graders.runner.guard`): the relay of the kernel's shell and iopub sockets at `urls`."""

    def __init__(self, kernel_urls: dict[str, str], max_frame_bytes: int):
        self.folder = tempfile.mkdtemp(prefix="course-wire-")
        self.urls = {channel: f"ipc://{self.folder}/{channel}" for channel in CHANNELS}
        ends = [url for channel in CHANNELS for url in (self.urls[channel], kernel_urls[channel])]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "graders.runner.guard", str(GUARD_MEMORY), str(max_frame_bytes), *ends],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=os.environ | {"MALLOC_ARENA_MAX": "1"},
        )
        if self.process.stdout.readline() != b"ready\n":
            self.close()
            raise RuntimeError(f"the grader's guard (graders.runner.guard) did not start: exit status {self.process.poll()}")

    def ended(self) -> bool:
        return self.process.poll() is not None

    def close(self) -> None:
        self.process.kill()
        self.process.wait()
        self.process.stdin.close()
        self.process.stdout.close()
        shutil.rmtree(self.folder, ignore_errors=True)


class MeteredClient(AsyncKernelClient):
    """The grader's kernel client (see the module); `received`, `unreadable` and `refused` are the executor's."""

    max_message_bytes = Integer(16 << 20, help="bytes of the largest frame read; a larger one ends the guard")
    received = Callable(help="(bytes) -> whether to read the message")
    unreadable = Callable(help="(why) -> None: the kernel sent a message that cannot be read")
    refused = Callable(help="() -> None: the guard refused a message over its memory or the frame cap")
    shell_channel_class = Type(MeteredChannel)
    iopub_channel_class = Type(MeteredChannel)
    _guard: Guard | None = None

    @default("context")
    def _capped_context(self) -> zmq.asyncio.Context:
        self._created_context = True
        context = zmq.asyncio.Context()
        context.setsockopt(zmq.MAXMSGSIZE, self.max_message_bytes)  # every socket it makes, set before it connects
        context.setsockopt(zmq.RCVHWM, MAX_QUEUED)
        return context

    def start_channels(self, shell=True, iopub=True, stdin=True, hb=True, control=True) -> None:
        """Shell and iopub only, through a guard of their own, each metered."""
        self._guard = Guard({channel: self._make_url(channel) for channel in CHANNELS}, self.max_message_bytes)
        super().start_channels(shell=shell, iopub=iopub, stdin=False, hb=False, control=False)
        for channel in (self.shell_channel, self.iopub_channel):
            channel.client = self

    def _make_url(self, channel: str) -> str:
        return self._guard.urls[channel] if self._guard is not None and channel in CHANNELS else super()._make_url(channel)

    async def is_alive(self) -> bool:  # type: ignore[override]
        """False, after telling `refused`, once the guard ended; else the kernel manager's answer."""
        if self._guard is not None and self._guard.ended():
            self.refused()
            return False
        return await super()._async_is_alive()

    def stop_channels(self) -> None:
        super().stop_channels()
        if self._guard is not None:
            self._guard.close()


def unreadable_because(message: dict) -> str | None:
    """What keeps the grader from reading a decoded `message` as the Jupyter protocol says (None: nothing):
    the fields that nbclient, nbgrader and nbformat read, of the types they read them as."""
    header, parent, content = (message.get(part) for part in ("header", "parent_header", "content"))
    if not all(isinstance(part, dict) for part in (header, parent, content)) or not isinstance(message.get("msg_type"), str):
        return "a message without a header, parent header or content"
    kind = message["msg_type"]
    transient = content.get("transient") or {}
    if not isinstance(transient, dict) or not isinstance(transient.get("display_id", ""), str):
        return f"a {kind!r} message whose transient display_id is not text"
    if "execution_count" in content and not _count(content["execution_count"]):
        return f"a {kind!r} message whose execution_count is not a count"
    fields = FIELDS.get(kind, {})
    if kind == "execute_reply" and content.get("status") == "error":
        fields = fields | FIELDS["error"]  # nbgrader copies an error reply into the cell
    for field, type_ in fields.items():
        if not isinstance(content.get(field), type_):
            return f"a {kind!r} message without {field} as {type_.__name__}"
    if "traceback" in fields and not all(isinstance(line, str) for line in content["traceback"]):
        return f"a {kind!r} message whose traceback is not lines of text"
    if "data" in fields and not all(_mime_value(key, value) for key, value in content["data"].items()):
        return f"a {kind!r} message whose data is not text by mimetype"
    return None

FIELDS = {  # msg_type -> the content fields read, and their types
    "status": {"execution_state": str},
    "stream": {"name": str, "text": str},
    "display_data": {"data": dict, "metadata": dict},
    "update_display_data": {"data": dict, "metadata": dict},
    "execute_result": {"data": dict, "metadata": dict},
    "error": {"ename": str, "evalue": str, "traceback": list},
    "execute_reply": {"status": str},
    "kernel_info_reply": {"language_info": dict},
}


def _count(value) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0)


def _mime_value(key, value) -> bool:
    """A mimebundle entry as nbformat takes it: text (or lines of it), anything for a JSON mimetype."""
    if not isinstance(key, str):
        return False
    if key.endswith("json"):
        return True
    return isinstance(value, str) or (isinstance(value, list) and all(isinstance(line, str) for line in value))


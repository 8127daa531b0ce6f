"""The guard between the grader's client and a kernel's sockets (grader/grading/guard.py), with real libzmq on
both sides: a message over budget (however many frames) is cut before the client holds it, normal messages pass,
and the client gets the next message after reconnecting."""

from __future__ import annotations

import asyncio

import pytest
import zmq
import zmq.asyncio

from grader.grading.guard import MESSAGE_BYTES, FrameCounter, KernelGuard
from tests.sandbox.attacks.helpers import own_rss_mb


def frames_of(flags_sizes: list[tuple[int, int]]) -> bytes:
    greeting = b"\xff" + bytes(8) + b"\x7f" + bytes([3, 1]) + b"NULL" + bytes(16) + bytes(32)
    out = bytearray(greeting)
    for flags, size in flags_sizes:
        out += bytes([flags | (2 if size > 255 else 0)])
        out += size.to_bytes(8 if size > 255 else 1, "big") + b"x" * size
    return bytes(out)


def test_the_counter_follows_frames_across_any_chunking():
    stream = frames_of([(4, 20), (1, 100), (1, 1000), (0, 300), (0, 5)])
    for chunk in (1, 7, 64, len(stream)):
        counter = FrameCounter(message_bytes=1400)
        assert all(counter.feed(stream[i : i + chunk]) for i in range(0, len(stream), chunk))


@pytest.mark.parametrize(
    "frames",
    [[(1, 1000)] * 2 + [(0, 1000)], [(1, 10)] * 70 + [(0, 10)], [(4, 70_000)]],
    ids=["bytes of one message", "frames of one message", "a huge command"],
)
def test_the_counter_cuts_a_message_over_budget(frames):
    assert not FrameCounter(message_bytes=2500).feed(frames_of(frames))


def test_a_stream_that_is_not_zmtp3_is_cut():
    assert not FrameCounter(message_bytes=100).feed(b"\x01\x00" + bytes(62))


def test_a_message_of_many_frames_never_reaches_the_client(tmp_path):
    async def main():
        ctx = zmq.asyncio.Context()
        ctx.setsockopt(zmq.RECONNECT_IVL, 10)
        kernel = ctx.socket(zmq.PUB)
        kernel.bind(f"ipc://{tmp_path}/k-1")
        guard = KernelGuard(tmp_path / "guard", f"{tmp_path}/k", {"iopub": 1})
        await guard.start()
        client = ctx.socket(zmq.SUB)
        client.setsockopt(zmq.SUBSCRIBE, b"")
        client.connect(f"ipc://{guard.prefix}-1")
        await asyncio.sleep(0.3)
        blob = b"x" * (MESSAGE_BYTES - 100_000)
        base, peak = own_rss_mb(), [0]
        await kernel.send_multipart([b"small", b"1"])
        assert await asyncio.wait_for(client.recv_multipart(), 5) == [b"small", b"1"]
        await kernel.send_multipart([b"huge"] + [blob] * 300, copy=False)  # 570 MB, each frame under the cap
        for _ in range(100):
            peak[0] = max(peak[0], own_rss_mb() - base)
            await asyncio.sleep(0.01)
        for attempt in range(100):  # the client reconnects through the guard
            await kernel.send_multipart([b"after", str(attempt).encode()])
            try:
                got = await asyncio.wait_for(client.recv_multipart(), 0.1)
                break
            except asyncio.TimeoutError:
                continue
        await guard.close()
        client.close(0)
        kernel.close(0)
        ctx.term()
        return got, peak[0], guard.cuts

    got, peak, cuts = asyncio.run(main())
    assert got[0] == b"after"
    assert cuts == 1
    assert peak < 64, f"the client side grew by {peak} MB"

"""An aiosmtpd relay that takes every mail and prints one line per mail on stdout:

    <time.monotonic()> <Message-ID of the customer mail an acknowledgement answers, or "-" for staff mail>

    python -m bench.relay_sink PORT [DELAY]

DELAY (seconds) is how long it takes to answer each mail's DATA, as a relay across a network does
(the round trips, its own queue's fsync): on loopback with none, one session goes as fast as the CPU.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
import time
from typing import Any

from aiosmtpd.controller import Controller

from bench.e2e_harness import ack_of


class _Handler:
    def __init__(self, delay: float) -> None:
        self.lock = threading.Lock()
        self.delay = delay

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        now = time.monotonic()
        raw = bytes(envelope.original_content or b"")
        head = raw[:raw.find(b"\r\n\r\n") + 2] if b"\r\n\r\n" in raw else raw[:8192]
        answered = ack_of(head, ",".join(envelope.rcpt_tos))
        with self.lock:
            sys.stdout.write(f"{now:.6f} {answered or '-'}\n")
            sys.stdout.flush()
        return "250 OK"


def main() -> None:
    port = int(sys.argv[1])
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    delay = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
    controller = Controller(_Handler(delay), hostname="127.0.0.1", port=port, data_size_limit=64 * 1024 * 1024)
    controller.start()
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()

"""An aiosmtpd relay that takes every mail and prints one line per mail on stdout:

    <time.monotonic()> <Message-ID of the customer mail an acknowledgement answers, or "-" for staff mail>

    python -m bench.relay_sink PORT
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from typing import Any

from aiosmtpd.controller import Controller

from bench.e2e_harness import ack_of


class _Handler:
    def __init__(self) -> None:
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
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
    controller = Controller(_Handler(), hostname="127.0.0.1", port=port, data_size_limit=64 * 1024 * 1024)
    controller.start()
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()

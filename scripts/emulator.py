"""`python -m scripts.emulator MOTO_PORT RECEIVER_PORT`: the bench's out-of-process AWS.

A moto server (so its work is not counted in the handlers' CPU time) and a plain HTTP receiver
that answers 200 on every path but `/fail...`, which answers 500. Runs until terminated.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler

from infra.local.server import LocalHTTPServer


class ReceiverHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        status = 500 if self.path.startswith("/fail") else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        return


def main(argv: list[str]) -> None:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto_port, receiver_port = int(argv[0]), int(argv[1])
    os.environ["MOTO_PORT"] = str(moto_port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    receiver = LocalHTTPServer(("127.0.0.1", receiver_port), ReceiverHandler)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    server.start()
    parent = os.getppid()
    for _ in range(1800):  # bounded: the bench never needs it half an hour
        if stop.wait(1) or os.getppid() != parent:  # stopped, or the bench died
            break
    receiver.shutdown()
    server.stop()


if __name__ == "__main__":
    main(sys.argv[1:])

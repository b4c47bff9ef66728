"""The HTTP server local mode (and its test and bench receivers) listen with."""

from __future__ import annotations

from http.server import ThreadingHTTPServer


class LocalHTTPServer(ThreadingHTTPServer):
    """A thread per request, and a listen backlog that holds a burst: socketserver's default of 5
    refuses connections when dozens of pollers or clients connect at once, which a caller sees
    as a connection error (and a delivery as a failed attempt)."""

    request_queue_size = 128
    daemon_threads = True

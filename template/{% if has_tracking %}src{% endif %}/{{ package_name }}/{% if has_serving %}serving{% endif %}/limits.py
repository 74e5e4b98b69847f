"""HTTP limits uvicorn does not set: the size and count of a request's headers,
how long a client may take to send them and its body, and how many requests
one connection may make.

uvicorn bounds only the idle time between requests (`timeout_keep_alive`), and
its httptools parser buffers a header however long it is. A client could hold
a connection forever by trickling bytes, or make the service buffer a
megabyte of header. `LimitedProtocol` is uvicorn's httptools protocol with
those bounds; `http_options` gives it and uvicorn's own limits to
`uvicorn.run`. Each refusal is logged and counted in `/metrics`.
"""

from asyncio import TimerHandle
from typing import Any, ClassVar

from prometheus_client import Counter
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .metrics import Metrics

# Every header of a request together, and the URL: nginx's default buffer is 8 KiB
# (four of them for long requests), so a browser or client never sends more.
MAX_HEAD_BYTES = 32 * 1024
MAX_HEADERS = 100
# Seconds a client has to send a request's headers, then its body.
HEAD_TIMEOUT = 10.0
BODY_TIMEOUT = 30.0
# Seconds an idle keep-alive connection stays open, and its requests at most.
IDLE_TIMEOUT = 5
MAX_REQUESTS_PER_CONNECTION = 1000
TOO_LARGE = f"The request's headers are over {MAX_HEAD_BYTES} bytes."
TOO_MANY = f"The request has over {MAX_HEADERS} headers."
# The most characters of a refused input that an error body quotes, and the
# most errors it lists: a 422 is never much longer than a correct answer.
ECHO_CHARACTERS = 100
MAX_ERRORS = 20


def clip(part: str | int, limit: int = ECHO_CHARACTERS) -> str | int:
    """A string's first `limit` characters and how many more there were."""
    if isinstance(part, int) or len(part) <= limit:
        return part
    return f"{part[:limit]}... ({len(part) - limit} more characters)"


class HeadRefused(Exception):
    """Raised in a parser callback to stop parsing a head over the limits."""


class LimitedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, bounding heads, slow clients and keep-alive."""

    refusals: ClassVar[Counter | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.in_head = True
        # The head's bytes as the parser hands them over, and the bytes received
        # while it is incomplete, which the parser buffers.
        self.head_bytes = self.buffered = 0
        self.header_count = 0
        self.requests = 0
        self.refusal: tuple[int, str] | None = None
        self.deadline: TimerHandle | None = None

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        # uvicorn's keep-alive timer starts only after a first answer: a client
        # that connects and sends nothing would be held forever.
        self.arm(HEAD_TIMEOUT, "headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self.disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.refusal is not None:
            return
        if self.in_head and self.deadline is None:
            self.arm(HEAD_TIMEOUT, "headers")
        super().data_received(data)
        # httptools hands over a header only once it is complete: count what is
        # buffered meanwhile, so a megabyte-long header is refused as it comes.
        # A read that also ends a pipelined request counts that request's bytes
        # too: an overestimate only where a client pipelines large bodies.
        if self.in_head and self.refusal is None:
            self.buffered += len(data)
            if self.buffered > MAX_HEAD_BYTES:
                self.refuse(431, TOO_LARGE)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.in_head = True
        self.head_bytes = self.buffered = self.header_count = 0

    def on_url(self, url: bytes) -> None:
        self.count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.header_count += 1
        if self.header_count > MAX_HEADERS:
            self.refusal = (431, TOO_MANY)
            raise HeadRefused
        self.count_head(len(name) + len(value))
        super().on_header(name, value)

    def count_head(self, size: int) -> None:
        self.head_bytes += size
        if self.head_bytes > MAX_HEAD_BYTES:
            self.refusal = (431, TOO_LARGE)
            raise HeadRefused

    def on_headers_complete(self) -> None:
        self.in_head = False
        self.disarm()
        super().on_headers_complete()
        self.requests += 1
        if self.requests >= MAX_REQUESTS_PER_CONNECTION and self.cycle is not None:
            # uvicorn answers with `connection: close` and closes after this answer.
            self.cycle.keep_alive = False
        self.arm(BODY_TIMEOUT, "body")

    def on_message_complete(self) -> None:
        self.disarm()
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a parser error, which a callback's refusal raises."""
        if self.refusal is None:
            self.count("malformed")
            super().send_400_response(msg)
            return
        status, message = self.refusal
        self.refusal = None
        self.refuse(status, message)

    def arm(self, seconds: float, phase: str) -> None:
        self.disarm()
        self.deadline = self.loop.call_later(seconds, self.too_slow, phase)

    def disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def too_slow(self, phase: str) -> None:
        self.deadline = None
        if self.transport.is_closing():
            return
        answering = self.cycle is not None and not self.cycle.response_complete
        if phase == "headers" and not answering:
            seconds = f"{HEAD_TIMEOUT:g}"
            self.refuse(408, f"The request's headers took over {seconds} s.")
            return
        # The app may be answering on this connection: no second answer, only
        # the close, which the app sees as the client's disconnect.
        self.count(f"slow {phase}")
        self.logger.warning(
            "Closed a connection: its request's %s came too slowly", phase
        )
        self.transport.close()

    def refuse(self, status: int, message: str) -> None:
        """Answer `status` with `message`, and close the connection."""
        self.refusal = (status, message)
        self.count(str(status))
        self.logger.warning("Refused a request (%d): %s", status, message)
        self.disarm()
        reason = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}
        body = message.encode()
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s"
            % (status, reason[status], len(body), body)
        )
        self.transport.close()

    def count(self, reason: str) -> None:
        if self.refusals is not None:
            self.refusals.labels(reason).inc()


def http_options(metrics: Metrics) -> dict[str, Any]:
    """`uvicorn.run`'s keyword arguments for these limits, counted in `metrics`."""
    protocol = type(
        "LimitedProtocol", (LimitedProtocol,), {"refusals": metrics.refused}
    )
    return {
        "http": protocol,
        "timeout_keep_alive": IDLE_TIMEOUT,
    }

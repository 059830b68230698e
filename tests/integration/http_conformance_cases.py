"""HTTP/1.1 conformance cases derived from RFC 9110 and RFC 9112, and the
runner that turns one case into an outcome for any proxy in front of a
ScriptedBackend.

A request case is raw client bytes and what a conforming proxy does with
them: refuse with a status (nothing reaches the target), close without an
answer, or forward, with facts about what the target received. A response
case is raw target bytes for an ordinary GET (or HEAD) and what the client
must see: status, body, and whether the next request on the same client
connection is answered cleanly ("ok"), the connection closed ("closed"),
or something else arrives (an injected response, garbage).

Every case carries an `X-Case` header so the backend can tell which case a
forwarded request belongs to, whatever the proxy did to its path. The same
outcomes feed test_http_conformance.py (lb against the expectations below)
and test_http_differential.py (lb against nginx and HAProxy)."""

import socket

from lbtest import ConnectionClosed, HttpConn

TIMEOUT = 3.0


class OneValue:
    """In a Forwarded expectation: exactly one field line, any value."""

    def __eq__(self, other):
        return isinstance(other, list) and len(other) == 1 and other[0] != ""

    def __repr__(self):
        return "[<one value>]"


ONE_VALUE = OneValue()


class Forwarded:
    """The request reached the target, which answered 200; `facts` name what
    the target must have received: body (bytes), and header values by
    lower-case name (a list; [] means absent; ONE_VALUE one of any value)."""

    def __init__(self, body=b"", **headers):
        self.facts = {"body": body}
        for name, values in headers.items():
            self.facts[name.replace("_", "-")] = values

    def __eq__(self, other):
        return isinstance(other, Forwarded) and self.facts == other.facts

    def __repr__(self):
        return f"Forwarded({self.facts!r})"


class Case:
    def __init__(self, id, rfc, raw, expect, note="", **extra):
        self.id = id
        self.rfc = rfc            # the section that decides it
        self.raw = raw            # bytes; {case} is replaced by the case id
        self.expect = expect      # int status | "closed" | Forwarded(...) | a response outcome tuple
        self.note = note
        self.head = extra.get("head", False)          # response cases: the request is HEAD
        self.response = extra.get("response")         # response cases: the target's raw answer

    def __repr__(self):
        return self.id


def req(request_line, *fields, body=b""):
    """Raw request: `request_line`, an X-Case field, `fields` as given
    (strings, each one field line), the blank line, `body`."""
    lines = [request_line, "X-Case: {case}", *fields]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


HOST = "Host: lb.test"

# ---------------------------------------------------------------- requests

REQUEST_CASES = [
    # Request line, method and target forms (RFC 9112 §3, RFC 9110 §9).
    Case("origin-form", "9112 §3.2.1", req("GET /a?b=c HTTP/1.1", HOST),
         Forwarded(host=["lb.test"])),
    Case("lower-case-method", "9110 §9.1 (methods are case-sensitive)", req("get / HTTP/1.1", HOST), 400,
         note="an unknown method; lb's parser refuses what it cannot name"),
    Case("unknown-method", "9110 §9.1", req("FROB / HTTP/1.1", HOST), 400,
         note="RFC 9110 suggests 501; lb's parser (llhttp) knows a fixed method list and refuses with 400"),
    Case("space-in-target", "9112 §3.2", req("GET /a b HTTP/1.1", HOST), 400),
    Case("ctl-in-target", "9112 §3.2", req("GET /a\x01b HTTP/1.1", HOST), 400),
    Case("version-garbage", "9112 §2.3", req("GET / HTTP/1.x", HOST), 400),
    Case("version-2-on-h1", "9112 §2.3", req("GET / HTTP/2.0", HOST), 505,
         note="a major version lb does not speak in HTTP/1 syntax"),
    Case("absolute-form", "9112 §3.2.2 (Host replaced by the authority)",
         req("GET http://lb.test/a HTTP/1.1", "Host: other.test"), Forwarded(host=["lb.test"])),
    Case("authority-form-get", "9112 §3.2.3 (CONNECT only)", req("GET lb.test:80 HTTP/1.1", HOST), 400),
    Case("asterisk-form-get", "9112 §3.2.4 (OPTIONS only)", req("GET * HTTP/1.1", HOST), 400),
    Case("leading-empty-line", "9112 §2.2 (SHOULD ignore one)", b"\r\n" + req("GET / HTTP/1.1", HOST),
         Forwarded(host=["lb.test"])),
    # Host (RFC 9112 §3.2, RFC 9110 §7.2).
    Case("no-host-1.1", "9112 §3.2 (MUST 400)", req("GET / HTTP/1.1"), 400),
    Case("no-host-1.0", "9112 §3.2 (1.0 may omit it)", req("GET / HTTP/1.0"),
         Forwarded(host=ONE_VALUE), note="lb forwards HTTP/1.1 with the listener's address as Host"),
    Case("two-hosts", "9112 §3.2 (MUST 400)", req("GET / HTTP/1.1", HOST, "Host: other.test"), 400),
    Case("empty-host", "9112 §3.2 (uri-host may be an empty reg-name)", req("GET / HTTP/1.1", "Host:"),
         Forwarded(host=ONE_VALUE), note="valid syntax naming no host: lb sends the listener's address"),
    Case("bad-host", "9110 §7.2", req("GET / HTTP/1.1", "Host: a b"), 400),
    # Field syntax (RFC 9112 §5, RFC 9110 §5.5).
    Case("space-before-colon", "9112 §5.1 (MUST 400)", req("GET / HTTP/1.1", HOST, "X-A : 1"), 400),
    Case("space-in-name", "9110 §5.1", req("GET / HTTP/1.1", HOST, "X A: 1"), 400),
    Case("empty-name", "9110 §5.1", req("GET / HTTP/1.1", HOST, ": 1"), 400),
    Case("ctl-in-name", "9110 §5.1", req("GET / HTTP/1.1", HOST, "X\x01A: 1"), 400),
    Case("nul-in-value", "9110 §5.5 (MUST reject or replace)", req("GET / HTTP/1.1", HOST, "X-A: a\x00b"), 400),
    Case("cr-in-value", "9110 §5.5", req("GET / HTTP/1.1", HOST, "X-A: a\rb"), 400),
    Case("obs-text-in-value", "9110 §5.5 (obs-text allowed)", req("GET / HTTP/1.1", HOST, "X-A: caf\xe9"),
         Forwarded(x_a=["caf\xe9"])),
    Case("value-whitespace-trimmed", "9110 §5.5", req("GET / HTTP/1.1", HOST, "X-A: \t v \t"),
         Forwarded(x_a=["v"])),
    Case("obs-fold", "9112 §5.2 (reject or replace by SP)", req("GET / HTTP/1.1", HOST, "X-A: a", " b"),
         Forwarded(x_a=["a b"]), note="replaced by SP, which the RFC allows a proxy"),
    # Framing (RFC 9112 §6).
    Case("content-length", "9112 §6.2", req("POST / HTTP/1.1", HOST, "Content-Length: 3", body=b"abc"),
         Forwarded(body=b"abc", content_length=["3"])),
    Case("content-length-repeated-same", "9110 §8.6 (MAY accept as one)",
         req("POST / HTTP/1.1", HOST, "Content-Length: 3", "Content-Length: 3", body=b"abc"), 400, note="the RFC allows accepting it as one; lb refuses any repeated framing field"),
    Case("content-length-list-same", "9110 §8.6 (MAY accept as one)",
         req("POST / HTTP/1.1", HOST, "Content-Length: 3, 3", body=b"abc"), 400,
         note="as content-length-repeated-same"),
    Case("content-length-differ", "9112 §6.3 (MUST 400)",
         req("POST / HTTP/1.1", HOST, "Content-Length: 3", "Content-Length: 4", body=b"abcd"), 400),
    Case("content-length-sign", "9110 §8.6 (1*DIGIT)", req("POST / HTTP/1.1", HOST, "Content-Length: +3", body=b"abc"),
         400),
    Case("content-length-hex", "9110 §8.6", req("POST / HTTP/1.1", HOST, "Content-Length: 0x3", body=b"abc"), 400),
    Case("content-length-huge", "9110 §8.6", req("POST / HTTP/1.1", HOST, "Content-Length: 99999999999999999999999"),
         400),
    Case("chunked", "9112 §7.1", req("POST / HTTP/1.1", HOST, "Transfer-Encoding: chunked",
                                    body=b"3\r\nabc\r\n0\r\n\r\n"),
         Forwarded(body=b"abc", transfer_encoding=["chunked"], content_length=[])),
    Case("chunked-case-insensitive", "9112 §7 (coding names are case-insensitive)",
         req("POST / HTTP/1.1", HOST, "Transfer-Encoding: Chunked", body=b"3\r\nabc\r\n0\r\n\r\n"),
         Forwarded(body=b"abc", content_length=[])),
    Case("chunk-extension", "9112 §7.1.1 (ignored)",
         req("POST / HTTP/1.1", HOST, "Transfer-Encoding: chunked", body=b"3;a=b\r\nabc\r\n0\r\n\r\n"),
         Forwarded(body=b"abc")),
    Case("chunked-trailer", "9112 §7.1.2",
         req("POST / HTTP/1.1", HOST, "Transfer-Encoding: chunked", body=b"3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n"),
         Forwarded(body=b"abc")),
    Case("te-and-content-length", "9112 §6.3 (MAY reject; then close)",
         req("POST / HTTP/1.1", HOST, "Transfer-Encoding: chunked", "Content-Length: 3",
             body=b"3\r\nabc\r\n0\r\n\r\n"), 400),
    Case("te-chunked-twice", "9112 §6.1 (chunked at most once)",
         req("POST / HTTP/1.1", HOST, "Transfer-Encoding: chunked, chunked", body=b"3\r\nabc\r\n0\r\n\r\n"), 400),
    Case("te-not-final-chunked", "9112 §6.3 (400 and close)",
         req("POST / HTTP/1.1", HOST, "Transfer-Encoding: chunked, gzip", body=b"abc"), 400),
    Case("te-gzip-chunked", "9112 §6.1 (SHOULD 501 for an unknown coding)",
         req("POST / HTTP/1.1", HOST, "Transfer-Encoding: gzip, chunked", body=b"3\r\nabc\r\n0\r\n\r\n"), 501),
    Case("te-unknown", "9112 §6.3 (chunked not final: MUST 400)",
         req("POST / HTTP/1.1", HOST, "Transfer-Encoding: xchunked", body=b"abc"), 400),
    Case("te-chunked-then-tab", "9110 §5.6.1 (OWS around list elements)",
         req("POST / HTTP/1.1", HOST, "Transfer-Encoding: chunked\t", body=b"3\r\nabc\r\n0\r\n\r\n"), 400,
         note="valid, but lb's parser (llhttp 8) does not frame it as chunked; lb refuses rather than guess"),
    Case("te-chunked-then-tab-and-bare-cr", "9112 §2.2 (a bare CR is invalid)",
         req("POST / HTTP/1.1", HOST, "Transfer-Encoding: chunked\t", "Transfer-Encoding: \rXA-B:",
             body=b"3\r\nabc\r\n0\r\n\r\n"), 400,
         note="the shape of an http_request fuzzer find; lb's check and its parser must agree it is refused"),
    Case("te-in-http-1.0", "9112 §6.1 (faulty framing)",
         req("POST / HTTP/1.0", HOST, "Transfer-Encoding: chunked", body=b"3\r\nabc\r\n0\r\n\r\n"), 400),
    Case("chunk-size-not-hex", "9112 §7.1",
         req("POST / HTTP/1.1", HOST, "Transfer-Encoding: chunked", body=b"zz\r\nabc\r\n0\r\n\r\n"), 400),
    Case("chunk-size-overflow", "9112 §7.1 (MUST anticipate overflow)",
         req("POST / HTTP/1.1", HOST, "Transfer-Encoding: chunked",
             body=b"10000000000000003\r\nabc\r\n0\r\n\r\n"), 400),
    Case("chunk-data-without-crlf", "9112 §7.1",
         req("POST / HTTP/1.1", HOST, "Transfer-Encoding: chunked", body=b"3\r\nabcXX0\r\n\r\n"), 400),
    Case("get-with-body", "9110 §9.3.1 (a body is framed like any other)",
         req("GET / HTTP/1.1", HOST, "Content-Length: 3", body=b"abc"), Forwarded(body=b"abc")),
    # Hop-by-hop fields (RFC 9110 §7.6.1).
    Case("connection-named-field-removed", "9110 §7.6.1",
         req("GET / HTTP/1.1", HOST, "Connection: X-Hop", "X-Hop: 1", "X-Kept: 1"),
         Forwarded(x_hop=[], x_kept=["1"])),
    Case("connection-cannot-remove-content-length", "9112 §6.3 (framing is not hop-by-hop)",
         req("POST / HTTP/1.1", HOST, "Connection: Content-Length", "Content-Length: 3", body=b"abc"),
         Forwarded(body=b"abc", content_length=["3"])),
    Case("connection-cannot-remove-host", "9112 §3.2",
         req("GET / HTTP/1.1", HOST, "Connection: Host"), Forwarded(host=["lb.test"])),
    Case("keep-alive-and-proxy-fields-removed", "9110 §7.6.1",
         req("GET / HTTP/1.1", HOST, "Keep-Alive: timeout=5", "Proxy-Connection: keep-alive"),
         Forwarded(keep_alive=[], proxy_connection=[])),
]

# ---------------------------------------------------------------- responses

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def resp(case_id, response, expect, rfc, note="", head=False):
    request = ("HEAD" if head else "GET") + " /r HTTP/1.1"
    return Case(case_id, rfc, req(request, HOST), expect, note=note, head=head, response=response)


RESPONSE_CASES = [
    resp("content-length", OK, (200, b"ok", "ok"), "9112 §6.3"),
    resp("chunked", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
         (200, b"ok", "ok"), "9112 §7.1"),
    resp("close-delimited", (b"HTTP/1.1 200 OK\r\n\r\nuntil close", "close"),
         (200, b"until close", "ok"), "9112 §6.3 (read until close)",
         note="relayed to the client framed (chunked) so its connection stays usable"),
    resp("http-1.0-close-delimited", (b"HTTP/1.0 200 OK\r\n\r\nold", "close"),
         (200, b"old", "ok"), "9112 §6.3"),
    resp("204-with-content-length-body", b"HTTP/1.1 204 No Content\r\nContent-Length: 8\r\n\r\nINJECTED",
         (204, b"", "ok"), "9112 §6.3 (204 has no body)"),
    resp("304-with-chunked-body", b"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n"
         b"8\r\nINJECTED\r\n0\r\n\r\n", (304, b"", "ok"), "9112 §6.3 (304 has no body)"),
    resp("head-with-content-length", b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nINJECTED",
         (200, b"", "ok"), "9112 §6.3 (a response to HEAD has no body)", head=True),
    resp("1xx-then-final", b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n" + OK,
         (200, b"ok", "ok"), "9110 §15.2"),
    resp("te-and-content-length", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 50\r\n\r\n"
         b"2\r\nok\r\n0\r\n\r\n", (502, None, "ok"), "9112 §6.3 (ought to be handled as an error)",
         note="the RFC lets an intermediary forward it as chunked; lb treats it as the smuggling signal it is"),
    resp("connection-cannot-remove-content-length",
         b"HTTP/1.1 200 OK\r\nConnection: Content-Length\r\nContent-Length: 2\r\n\r\nok",
         (200, b"ok", "ok"), "9112 §6.3"),
    resp("content-length-differ", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
         (502, None, "ok"), "9112 §6.3 (unrecoverable framing: 502)"),
    resp("bad-status-code", b"HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok", (502, None, "ok"), "9112 §4"),
    resp("not-http", (b"hello there\r\n\r\n", "close"), (502, None, "ok"), "9112 §4"),
    resp("space-before-colon", b"HTTP/1.1 200 OK\r\nX-A : 1\r\nContent-Length: 2\r\n\r\nok",
         (502, None, "ok"), "9112 §5.1 (proxy MUST remove or reject)"),
    resp("nul-in-value", b"HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 2\r\n\r\nok",
         (502, None, "ok"), "9110 §5.5"),
    resp("content-length-not-a-number", b"HTTP/1.1 200 OK\r\nContent-Length: 2x\r\n\r\nok",
         (502, None, "ok"), "9112 §6.3"),
    resp("closed-before-head", (b"", "close"), (502, None, "ok"), "9110 §15.6.3"),
]

ALL_CASES = [("request", c) for c in REQUEST_CASES] + [("response", c) for c in RESPONSE_CASES]


def respond_by_case(request):
    """The ScriptedBackend responder: a response case's script, else 200 ok."""
    case_id = request.header("x-case") or ""
    kind, _, name = case_id.partition(":")
    if kind == "response":
        for case in RESPONSE_CASES:
            if case.id == name:
                return case.response
    return OK


def forwarded_requests(backend, case_key):
    return [r for r in backend.requests_for("") if r.header("x-case") == case_key]


def expected(kind, case):
    """The outcome a case asks for: a refused request must also leave its
    connection closed (bytes after a request refused for its framing or
    syntax cannot be trusted to start the next one)."""
    if kind == "request" and isinstance(case.expect, int):
        return (case.expect, "closed")
    return case.expect


def request_outcome(port, backend, case):
    """What a proxy at `port` did with request case `case`: (status, what
    the next request on that connection got) when nothing reached the
    target, "closed" when it closed without answering, "timeout" when it
    neither answered nor closed, or Forwarded with the facts the case asks
    about."""
    key = f"request:{case.id}"
    with HttpConn(port, timeout=TIMEOUT) as conn:
        conn.send(case.raw.replace(b"{case}", key.encode()))
        try:
            response = conn.read_response()
        except ConnectionClosed:
            response = None
        except TimeoutError:
            return "timeout"
        seen = forwarded_requests(backend, key)
        if response is not None and not seen:
            return (response.status, next_exchange(conn))
    if response is None:
        return "closed" if not seen else f"closed after forwarding {len(seen)}"
    if response.status != 200 or len(seen) != 1:
        return f"{response.status} after forwarding {len(seen)}"
    upstream = seen[0]
    facts = {"body": upstream.body}
    wanted = case.expect.facts if isinstance(case.expect, Forwarded) else {}
    for name in wanted:
        if name != "body":
            facts[name] = upstream.header_values(name)
    return Forwarded(**{k.replace("-", "_"): v for k, v in facts.items()})


def response_outcome(port, case):
    """(status or "closed", body or None for an error status, what the next
    request on the same client connection got)."""
    key = f"response:{case.id}"
    with HttpConn(port, timeout=TIMEOUT) as conn:
        conn.send(case.raw.replace(b"{case}", key.encode()))
        try:
            response = conn.read_response(head=case.head)
        except ConnectionClosed:
            return ("closed", None, "closed")
        except TimeoutError:
            return ("timeout", None, "timeout")
        except ValueError as e:
            return (f"garbage: {e}", None, "not tried")
        body = response.body if response.status < 500 else None
        return (response.status, body, next_exchange(conn))


def next_exchange(conn):
    """"ok" when a plain GET on the same connection is answered 200 "ok",
    "closed" when the connection was closed, else what came instead."""
    try:
        conn.send(req("GET /next HTTP/1.1", HOST).replace(b"{case}", b"next"))
        response = conn.read_response()
    except (ConnectionClosed, ConnectionResetError, BrokenPipeError):
        return "closed"
    except (TimeoutError, socket.timeout):
        return "timeout"
    except ValueError as e:
        return f"garbage: {e}"
    if response.status == 200 and response.body == b"ok":
        return "ok"
    return f"unexpected {response.status} {response.body[:40]!r}"


def outcome(kind, port, backend, case):
    return request_outcome(port, backend, case) if kind == "request" else response_outcome(port, case)

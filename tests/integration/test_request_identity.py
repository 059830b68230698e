"""Request ids and W3C trace context through the real binary (README
"Request ids and trace context"): one id per request, the same at the
target, in the response and in the access log; incoming ids kept only from
whom the listener trusts and only when valid; traceparent passed on,
joined or started; HTTP/1.1 and HTTP/2 alike."""

import json
import re
import socket

import h2test
import lbtest
from lbtest import HOST, HttpConn

HEX32 = re.compile(r"^[0-9a-f]{32}$")
TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
SPEC_EXAMPLE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def seen(response, name):
    """The values of header `name` the backend received (its echo)."""
    return [v for k, v in response.json()["headers"] if k.lower() == name.lower()]


def get(port, path="/", headers=()):
    with HttpConn(port) as conn:
        conn.request("GET", path, headers=headers)
        return conn.read_response()


def entry_for(lb, url):
    """The access log line of `url`, waited for."""
    def find():
        return next((e for e in lb.access_entries() if e.get("url") == url), None)
    return lbtest.wait_for(find, timeout=10, what=f"the access log line of {url}")


# ---------------------------------------------------------------- request ids

def test_every_request_gets_a_new_id_seen_by_target_client_and_log(http_lb):
    lb, port = http_lb()
    ids = []
    for i in range(5):
        response = get(port, f"/id/{i}")
        assert response.status == 200
        sent = response.header("x-request-id")
        assert HEX32.match(sent), sent
        assert seen(response, "x-request-id") == [sent]
        assert entry_for(lb, f"/id/{i}")["request_id"] == sent
        ids.append(sent)
    assert len(set(ids)) == 5


def test_an_untrusted_id_is_replaced(http_lb):
    lb, port = http_lb()
    response = get(port, "/untrusted", headers=[("X-Request-Id", "client-chosen-id")])
    sent = response.header("x-request-id")
    assert HEX32.match(sent) and seen(response, "x-request-id") == [sent]
    assert entry_for(lb, "/untrusted")["request_id"] == sent


def test_trust_all_keeps_a_valid_id_and_replaces_bad_ones(http_lb):
    lb, port = http_lb(listener_extra={"request_id": {"trust": "all"}})
    kept = get(port, "/kept", headers=[("X-Request-Id", "0f8fad5b-d9cb-469f-a165-70867728950e")])
    assert kept.header("x-request-id") == "0f8fad5b-d9cb-469f-a165-70867728950e"
    assert seen(kept, "x-request-id") == ["0f8fad5b-d9cb-469f-a165-70867728950e"]
    assert entry_for(lb, "/kept")["request_id"] == "0f8fad5b-d9cb-469f-a165-70867728950e"
    for name, headers in [("long", [("X-Request-Id", "a" * 129)]),
                          ("space", [("X-Request-Id", "two words")]),
                          ("quote", [("X-Request-Id", 'a"b')]),
                          ("twice", [("X-Request-Id", "one"), ("X-Request-Id", "two")])]:
        response = get(port, f"/bad/{name}", headers=headers)
        sent = response.header("x-request-id")
        assert HEX32.match(sent), (name, sent)
        assert seen(response, "x-request-id") == [sent], name
        assert entry_for(lb, f"/bad/{name}")["request_id"] == sent


def test_whitespace_around_a_field_value_is_not_part_of_it(http_lb):
    # RFC 9110 5.5: optional whitespace before and after a field value is
    # not the value. A proxy in front that writes "X-Request-Id: abc " or a
    # tracer writing "traceparent: 00-... " sent a valid id and trace.
    lb, port = http_lb(listener_extra={"request_id": {"trust": "all"}})
    response = get(port, "/ows", headers=[("X-Request-Id", " kept-id-1 \t"),
                                          ("traceparent", SPEC_EXAMPLE + "  "),
                                          ("tracestate", "congo=t61rcWkgMzE")])
    assert response.header("x-request-id") == "kept-id-1"
    assert seen(response, "x-request-id") == ["kept-id-1"]
    assert [v.strip() for v in seen(response, "traceparent")] == [SPEC_EXAMPLE]
    assert seen(response, "tracestate") == ["congo=t61rcWkgMzE"]
    entry = entry_for(lb, "/ows")
    assert entry["request_id"] == "kept-id-1"
    assert entry["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"


def test_trusted_proxies_trust_follows_the_connections_peer(http_lb):
    lb, port = http_lb(listener_extra={"trusted_proxies": ["127.0.0.0/8"],
                                       "request_id": {"trust": "trusted_proxies"}})
    assert get(port, "/p", headers=[("X-Request-Id", "from-proxy")]).header("x-request-id") == "from-proxy"
    lb2, port2 = http_lb(listener_extra={"trusted_proxies": ["10.0.0.0/8"],
                                         "request_id": {"trust": "trusted_proxies"}})
    assert get(port2, "/p", headers=[("X-Request-Id", "from-proxy")]).header("x-request-id") != "from-proxy"


def test_trusted_proxies_trust_the_balancer_that_sent_a_proxy_header(http_lb):
    """On an accept_proxy_protocol listener the client is the address the
    PROXY header named; the id is still believed because the connection came
    from a trusted proxy, and not from a direct client."""
    lb, port = http_lb(listener_extra={"accept_proxy_protocol": True, "trusted_proxies": ["127.0.0.1/32"],
                                       "request_id": {"trust": "trusted_proxies"}})
    proxy_header = b"PROXY TCP4 203.0.113.7 127.0.0.1 4000 80\r\n"
    with HttpConn(port) as conn:  # from 127.0.0.1: the trusted balancer
        conn.send(proxy_header + lbtest.build_request("GET", "/via-proxy", [("X-Request-Id", "from-balancer")]))
        response = conn.read_response()
    assert response.header("x-request-id") == "from-balancer"
    assert seen(response, "x-request-id") == ["from-balancer"]
    assert entry_for(lb, "/via-proxy")["client"] == "203.0.113.7"
    # 127.0.0.2 is no trusted proxy: a direct client, whose id is replaced.
    with socket.create_connection((HOST, port), timeout=10, source_address=("127.0.0.2", 0)) as sock:
        sock.sendall(lbtest.build_request("GET", "/direct", [("X-Request-Id", "from-balancer")]))
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(4096)
            assert chunk, "closed before an answer"
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200")
    assert entry_for(lb, "/direct")["request_id"] != "from-balancer"


def test_another_header_name(http_lb):
    lb, port = http_lb(listener_extra={"request_id": {"header": "X-Correlation-Id"}})
    response = get(port, "/corr")
    sent = response.header("x-correlation-id")
    assert HEX32.match(sent) and seen(response, "x-correlation-id") == [sent]
    assert response.header("x-request-id") is None


def test_request_id_off_leaves_the_header_alone_but_logs_an_id(http_lb):
    lb, port = http_lb(listener_extra={"request_id": "off"})
    response = get(port, "/off", headers=[("X-Request-Id", "anything goes")])
    assert seen(response, "x-request-id") == ["anything goes"]
    assert response.header("x-request-id") is None
    assert HEX32.match(entry_for(lb, "/off")["request_id"])


def test_header_edit_variable_is_the_same_id(http_lb):
    lb, port = http_lb(listener_extra={"request_headers": {"set": {"X-Edit": "id=#{request_id}"}}})
    response = get(port, "/edit")
    assert seen(response, "x-edit") == ["id=" + response.header("x-request-id")]


def test_lbs_own_answers_carry_the_id(start_lb, backends):
    port = lbtest.free_port()
    listener = lbtest.http_listener(port, "dead")
    listener["rules"] = [
        {"priority": 1, "conditions": {"path": ["/fixed"]},
         "action": {"fixed_response": {"status": 200, "body": "fixed"}}},
        {"priority": 2, "conditions": {"path": ["/redirect"]},
         "action": {"redirect": {"host": "elsewhere.test", "status": 301}}},
    ]
    lb = start_lb(lbtest.make_config([listener], [lbtest.target_group("dead", [lbtest.dead_target()])]))
    for path, status in (("/fixed", 200), ("/redirect", 301), ("/error", 502)):
        response = get(port, path)
        assert response.status == status, path
        sent = response.header("x-request-id")
        assert HEX32.match(sent or ""), (path, response)
        assert entry_for(lb, path)["request_id"] == sent


# ---------------------------------------------------------------- trace context

def test_pass_forwards_a_valid_traceparent_unchanged(http_lb):
    lb, port = http_lb()
    response = get(port, "/pass", headers=[("traceparent", SPEC_EXAMPLE), ("tracestate", "congo=t61rcWkgMzE")])
    assert seen(response, "traceparent") == [SPEC_EXAMPLE]
    assert seen(response, "tracestate") == ["congo=t61rcWkgMzE"]
    entry = entry_for(lb, "/pass")
    assert entry["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert "span_id" not in entry


def test_pass_drops_an_invalid_traceparent_and_its_tracestate(http_lb):
    lb, port = http_lb()
    bad = "00-00000000000000000000000000000000-00f067aa0ba902b7-01"
    response = get(port, "/pass-bad", headers=[("traceparent", bad), ("tracestate", "congo=t61rcWkgMzE")])
    assert seen(response, "traceparent") == [] and seen(response, "tracestate") == []
    assert "trace_id" not in entry_for(lb, "/pass-bad")
    # tracestate alone is no trace either
    alone = get(port, "/state-alone", headers=[("tracestate", "congo=t61rcWkgMzE")])
    assert seen(alone, "tracestate") == []


def test_start_begins_a_trace_when_there_is_none(http_lb):
    lb, port = http_lb(listener_extra={"trace_context": "start"})
    traces = set()
    for i in range(3):
        response = get(port, f"/start/{i}", headers=[("tracestate", "orphan=1")])
        [value] = seen(response, "traceparent")
        trace_id, parent_id, flags = TRACEPARENT.match(value).groups()
        assert trace_id != "0" * 32 and parent_id != "0" * 16 and flags == "01"
        assert seen(response, "tracestate") == []
        entry = entry_for(lb, f"/start/{i}")
        assert entry["trace_id"] == trace_id and entry["span_id"] == parent_id
        traces.add(trace_id)
    assert len(traces) == 3


def test_start_joins_a_valid_trace_with_its_own_span(http_lb):
    lb, port = http_lb(listener_extra={"trace_context": "start"})
    incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
    response = get(port, "/join", headers=[("traceparent", incoming), ("tracestate", "congo=t61rcWkgMzE")])
    [value] = seen(response, "traceparent")
    trace_id, parent_id, flags = TRACEPARENT.match(value).groups()
    assert trace_id == "4bf92f3577b34da6a3ce929d0e0e4736" and flags == "00"
    assert parent_id != "00f067aa0ba902b7"
    assert seen(response, "tracestate") == ["congo=t61rcWkgMzE"]
    entry = entry_for(lb, "/join")
    assert entry["trace_id"] == trace_id and entry["span_id"] == parent_id


def test_start_replaces_an_invalid_trace(http_lb):
    lb, port = http_lb(listener_extra={"trace_context": "start"})
    bad = "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"  # upper case
    response = get(port, "/restart", headers=[("traceparent", bad), ("tracestate", "congo=t61rcWkgMzE")])
    [value] = seen(response, "traceparent")
    trace_id, _, flags = TRACEPARENT.match(value).groups()
    assert trace_id != "4bf92f3577b34da6a3ce929d0e0e4736" and flags == "01"
    assert seen(response, "tracestate") == []
    assert entry_for(lb, "/restart")["trace_id"] == trace_id


# ---------------------------------------------------------------- HTTP/2

def test_http2_requests_get_ids_and_traces_too(start_lb, backends):
    port = lbtest.free_port()
    listener = lbtest.http_listener(port, "web", http2="prior_knowledge", trace_context="start",
                                    request_id={"trust": "all"})
    lb = start_lb(lbtest.make_config([listener], [lbtest.target_group("web", backends)]))
    client = h2test.H2Client.connect(port, tls=False)
    try:
        fresh = client.response(client.request("/h2/new", scheme="http"))
        kept = client.response(client.request("/h2/kept", scheme="http",
                                              headers=[("x-request-id", "h2-id-1"), ("traceparent", SPEC_EXAMPLE)]))
    finally:
        client.close()
    new_id = fresh.header("x-request-id")
    assert HEX32.match(new_id)
    echo = json.loads(bytes(fresh.data))
    assert [v for k, v in echo["headers"] if k.lower() == "x-request-id"] == [new_id]
    [parent] = [v for k, v in echo["headers"] if k.lower() == "traceparent"]
    entry = entry_for(lb, "/h2/new")
    assert entry["protocol"] == "HTTP/2.0" and entry["request_id"] == new_id
    assert entry["trace_id"] == TRACEPARENT.match(parent).group(1)
    assert kept.header("x-request-id") == "h2-id-1"
    echo = json.loads(bytes(kept.data))
    [parent] = [v for k, v in echo["headers"] if k.lower() == "traceparent"]
    assert parent.startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-") and parent.endswith("-01")
    assert entry_for(lb, "/h2/kept")["request_id"] == "h2-id-1"

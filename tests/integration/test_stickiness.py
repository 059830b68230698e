"""Sticky sessions to one target of a group (issue 6): lb_cookie, app_cookie,
source_ip, and a Socket.IO-style polling-then-WebSocket session that only
works because of them. Backends answer with X-Backend: where a request went
is visible. Groups use round_robin, so without stickiness consecutive
requests go to different targets."""

import asyncio
import collections
import json
import threading
import time
import urllib.parse

import pytest
import requests
import websockets

import lbtest
from lbtest import HttpConn, free_port, headers_named, health_check, http_listener, make_config, target_group
from test_admin_api import Admin
from test_health import key, wait_state


def sticky(kind, **extra):
    return {"stickiness": dict(type=kind, **extra)}


def url(port, path="/"):
    return f"http://127.0.0.1:{port}{path}"


def set_cookies(response):
    """{name: (value, attributes)} from every Set-Cookie header of a raw response."""
    out = {}
    for header in response.header_values("Set-Cookie"):
        pair, _, attributes = header.partition(";")
        name, _, value = pair.partition("=")
        out[name.strip()] = (value.strip(), attributes)
    return out


def ask(port, cookies=None, path="/", source=None):
    """One request on a fresh connection carrying `cookies`: (backend, Set-Cookies, echo or None)."""
    headers = [("Cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()))] if cookies else []
    with HttpConn(port, source=source) as conn:
        conn.request("GET", path, headers)
        response = conn.read_response()
    assert response.status == 200, response
    echo = response.json() if response.header("Content-Type") == "application/json" else None
    return response.header("X-Backend"), set_cookies(response), echo


def backends_of(port, n, cookies=None, path="/"):
    return collections.Counter(ask(port, cookies, path)[0] for _ in range(n))


def write_secret(tmp_path, name="sticky.key", text="a shared secret of 32 characters"):
    path = tmp_path / name
    path.write_text(text + "\n")
    return str(path)


# ---------------------------------------------------------------- lb_cookie

def test_lb_cookie_keeps_a_client_with_a_jar_on_one_target_for_1000_requests(http_lb):
    _, port = http_lb(group_extra=sticky("lb_cookie", duration="1h"))
    with requests.Session() as jar:
        seen = collections.Counter()
        for _ in range(1000):
            response = jar.get(url(port), timeout=10)
            assert response.status_code == 200
            seen[response.headers["X-Backend"]] += 1
            # lb's cookie is lb's business: the target never sees it.
            assert "LBSTICKY" not in str(headers_named(response.json(), "Cookie"))
        assert len(seen) == 1, seen
        assert jar.cookies.get("LBSTICKY")
    # Without the jar, the same requests spread over every target.
    assert set(backends_of(port, 30)) == {"b1", "b2", "b3"}


def test_lb_cookie_attributes_and_renewal(http_lb):
    _, port = http_lb(group_extra=sticky("lb_cookie", duration="2h"))
    target, cookies, _ = ask(port)
    value, attributes = cookies["LBSTICKY"]
    parts = {a.strip() for a in attributes.split(";")}
    assert {"Path=/", "Max-Age=7200", "HttpOnly", "SameSite=Lax"} <= parts, attributes
    assert "Secure" not in parts          # plain http listener
    # Every answer renews it (sliding expiry), still naming the same target.
    again, renewed, _ = ask(port, {"LBSTICKY": value})
    assert again == target
    assert "LBSTICKY" in renewed


def test_lb_cookie_custom_name_and_secure_on_https(start_lb, backends, tls_certs):
    port = free_port()
    listener = http_listener(port, "web", name="web-tls", protocol="https",
                             tls={"certificates": [tls_certs.default.config]})
    start_lb(make_config([listener], [target_group("web", backends,
                                                   **sticky("lb_cookie", cookie_name="SRVID"))]))
    with HttpConn(port, tls=True) as conn:
        conn.request("GET", "/")
        first = conn.read_response()
        set_cookie = first.header("Set-Cookie")
        assert set_cookie.startswith("SRVID=")
        assert "; Secure" in set_cookie and "HttpOnly" in set_cookie
        cookie = [("Cookie", set_cookie.split(";")[0])]
        seen = set()
        for _ in range(30):
            conn.request("GET", "/", cookie)
            seen.add(conn.read_response().header("X-Backend"))
    assert seen == {first.header("X-Backend")}


def test_lb_cookie_tampered_expired_or_foreign_is_ignored_and_replaced(start_lb, backends):
    port, other_port = free_port(), free_port()
    config = make_config(
        [http_listener(port, "web"), http_listener(other_port, "other", name="other")],
        [target_group("web", backends, **sticky("lb_cookie", duration="1s")),
         target_group("other", backends, **sticky("lb_cookie", duration="1h"))])
    start_lb(config)
    target, cookies, _ = ask(port)
    good = cookies["LBSTICKY"][0]
    # Control: the fresh cookie holds.
    assert backends_of(port, 6, {"LBSTICKY": good}) == {target: 6}

    def ignored(port, value):
        seen = collections.Counter()
        for _ in range(6):
            backend, replaced, _ = ask(port, {"LBSTICKY": value})
            seen[backend] += 1
            assert replaced["LBSTICKY"][0] not in ("", value)   # a valid one in its place
        return len(seen) > 1   # round robin again, not stuck

    tampered = good[:10] + ("A" if good[10] != "A" else "B") + good[11:]
    assert ignored(port, tampered)
    assert ignored(port, "not-a-cookie")
    # Signed by this lb for another group (same targets): foreign here.
    assert ignored(other_port, good)
    time.sleep(2.5)   # the 1s duration has passed
    assert ignored(port, good)


def test_lb_cookie_honoured_by_another_lb_with_the_same_secret(start_lb, backends, tmp_path):
    secret = write_secret(tmp_path)
    ports = [free_port() for _ in range(3)]
    group = target_group("web", backends, **sticky("lb_cookie"))
    first = start_lb(make_config([http_listener(ports[0], "web")], [group], sticky_secret_file=secret))
    start_lb(make_config([http_listener(ports[1], "web")], [group], sticky_secret_file=secret))
    # No secret file: a random key per process, and a warning saying so.
    lonely = start_lb(make_config([http_listener(ports[2], "web")], [group]))
    assert "random per-process key" in lonely.stderr()
    assert "random per-process key" not in first.stderr()

    for source_port in ports[:2]:
        target, cookies, _ = ask(source_port)
        value = cookies["LBSTICKY"][0]
        for port in ports[:2]:
            assert backends_of(port, 10, {"LBSTICKY": value}) == {target: 10}, (source_port, port)
    assert len(backends_of(ports[2], 6, {"LBSTICKY": value})) > 1


def test_stopping_the_sticky_target_moves_the_client_and_reissues_the_cookie(start_lb, start_backend):
    mine = [start_backend(f"s{i}") for i in range(1, 4)]
    port = free_port()
    start_lb(make_config([http_listener(port, "web")],
                         [target_group("web", mine, **sticky("lb_cookie", duration="1h"))]))
    target, cookies, _ = ask(port)
    cookie = cookies["LBSTICKY"][0]
    assert backends_of(port, 5, {"LBSTICKY": cookie}) == {target: 5}

    next(b for b in mine if b.name == target).stop()
    moved, reissued, _ = ask(port, {"LBSTICKY": cookie})
    assert moved != target
    new_cookie = reissued["LBSTICKY"][0]
    assert new_cookie != cookie
    # The new cookie holds the client on its new target.
    assert backends_of(port, 20, {"LBSTICKY": new_cookie}) == {moved: 20}


def start_checked(start_lb, backends, kind):
    """lb with a health-checked sticky group, once every target is healthy."""
    port = free_port()
    lb = start_lb(make_config([http_listener(port, "web")],
                              [target_group("web", backends, health_check=health_check(), **sticky(kind))]))
    for backend in backends:
        wait_state(lb, key(backend), "healthy")
    return lb, port


def test_unhealthy_sticky_target_is_replaced_and_the_cookie_reissued(start_lb, backends):
    lb, port = start_checked(start_lb, backends, "lb_cookie")
    target, cookies, _ = ask(port)
    old_cookie = cookies["LBSTICKY"][0]
    victim = next(b for b in backends if b.name == target)

    victim.set_health(False)
    wait_state(lb, key(victim), "unhealthy")
    served_before = victim.stats()["requests"]
    moved, reissued, _ = ask(port, {"LBSTICKY": old_cookie})
    assert moved != target
    new_cookie = reissued["LBSTICKY"][0]
    assert backends_of(port, 10, {"LBSTICKY": new_cookie}) == {moved: 10}
    assert victim.stats()["requests"] == served_before   # not even tried

    # Healthy again: the re-issued cookie keeps the client where it moved.
    victim.set_health(True)
    wait_state(lb, key(victim), "healthy", count=2)
    assert backends_of(port, 5, {"LBSTICKY": new_cookie}) == {moved: 5}


def test_draining_sticky_target_is_replaced_and_the_cookie_reissued(start_lb, backends):
    port = free_port()
    config = make_config([http_listener(port, "web")],
                         [target_group("web", backends, deregistration_delay="10s", **sticky("lb_cookie"))])
    start_lb(config)
    admin = Admin(config)
    target, cookies, _ = ask(port)
    cookie = cookies["LBSTICKY"][0]
    victim = next(b for b in backends if b.name == target)
    assert backends_of(port, 3, {"LBSTICKY": cookie}) == {target: 3}

    # A slow request keeps the deregistered target draining for a while.
    served_before = victim.stats()["requests"]
    slow = []
    thread = threading.Thread(target=lambda: slow.append(ask(port, {"LBSTICKY": cookie}, path="/delay/1500")))
    thread.start()
    lbtest.wait_for(lambda: admin.target(key(victim))["in_flight"] == 1, what="the slow request in flight")
    assert admin.deregister(key(victim)).status_code == 202
    assert admin.target(key(victim))["state"] == "draining"
    moved, reissued, _ = ask(port, {"LBSTICKY": cookie})
    assert moved != target
    assert backends_of(port, 10, {"LBSTICKY": reissued["LBSTICKY"][0]}) == {moved: 10}
    thread.join(10)
    assert slow and slow[0][0] == target   # the request in flight finished where it was
    assert victim.stats()["requests"] == served_before + 1   # that request only


def test_weight_zero_keeps_sticky_clients_but_takes_no_new_ones(start_lb, backends):
    port = free_port()
    config = make_config([http_listener(port, "web")],
                         [target_group("web", backends, **sticky("lb_cookie"))])
    lb = start_lb(config)
    target, cookies, _ = ask(port)
    cookie = cookies["LBSTICKY"][0]
    config["target_groups"][0]["targets"] = [dict(b.target, weight=0 if b.name == target else 1)
                                             for b in backends]
    lb.reload(config)
    assert backends_of(port, 10, {"LBSTICKY": cookie}) == {target: 10}
    assert target not in backends_of(port, 12)


# ---------------------------------------------------------------- app_cookie

def set_app_cookie_path(header):
    return "/response-headers?" + urllib.parse.urlencode({"Set-Cookie": header})


def test_app_cookie_is_followed_while_the_client_sends_it(http_lb):
    _, port = http_lb(group_extra=sticky("app_cookie", cookie_name="JSESSIONID", duration="1h"))
    # No application cookie yet: no companion either, and no stickiness.
    _, cookies, _ = ask(port)
    assert cookies == {}
    assert len(backends_of(port, 6)) == 3

    target, cookies, _ = ask(port, path=set_app_cookie_path("JSESSIONID=abc123; Path=/"))
    companion, attributes = cookies["LBAPP-JSESSIONID"]
    assert "HttpOnly" in attributes and "Path=/" in attributes and "Max-Age=3600" in attributes
    session = {"JSESSIONID": "abc123", "LBAPP-JSESSIONID": companion}
    with requests.Session() as jar:
        jar.cookies.update(session)
        for _ in range(200):
            response = jar.get(url(port), timeout=10)
            assert response.headers["X-Backend"] == target
            sent = str(headers_named(response.json(), "Cookie"))
            # The application's cookie reaches it; lb's companion does not.
            assert "JSESSIONID=abc123" in sent and "LBAPP" not in sent

    # The companion is bound to the value it was issued for.
    assert len(backends_of(port, 6, {"JSESSIONID": "other", "LBAPP-JSESSIONID": companion})) > 1
    # The application's cookie alone is not enough.
    assert len(backends_of(port, 6, {"JSESSIONID": "abc123"})) > 1


def test_app_cookie_deleted_by_the_application_deletes_the_companion(http_lb):
    _, port = http_lb(group_extra=sticky("app_cookie", cookie_name="sid"))
    target, cookies, _ = ask(port, path=set_app_cookie_path("sid=s1"))
    session = {"sid": "s1", "LBAPP-sid": cookies["LBAPP-sid"][0]}
    backend, cookies, _ = ask(port, session, path=set_app_cookie_path("sid=; Max-Age=0"))
    assert backend == target
    value, attributes = cookies["LBAPP-sid"]
    assert value == "" and "Max-Age=0" in attributes


def test_app_cookie_moves_with_a_failed_over_session(start_lb, start_backend):
    mine = [start_backend(f"a{i}") for i in range(1, 4)]
    port = free_port()
    start_lb(make_config([http_listener(port, "web")],
                         [target_group("web", mine, **sticky("app_cookie", cookie_name="sid"))]))
    target, cookies, _ = ask(port, path=set_app_cookie_path("sid=s1"))
    session = {"sid": "s1", "LBAPP-sid": cookies["LBAPP-sid"][0]}
    next(b for b in mine if b.name == target).stop()
    moved, cookies, _ = ask(port, session)
    assert moved != target
    # The companion now names the target that served the session.
    session["LBAPP-sid"] = cookies["LBAPP-sid"][0]
    assert backends_of(port, 10, session) == {moved: 10}


# ---------------------------------------------------------------- source_ip

SOURCES = [f"127.0.0.{last}" for last in range(2, 42)]


def placements(port, sources, repeats=3):
    """{source: target}; asserts each source stays on one target."""
    out = {}
    for source in sources:
        seen = {ask(port, source=source)[0] for _ in range(repeats)}
        assert len(seen) == 1, (source, seen)
        out[source] = seen.pop()
    return out


def test_source_ip_is_stable_across_two_lb_processes(start_lb, backends):
    ports = [free_port(), free_port()]
    # round_robin is the algorithm: source_ip stickiness overrides it.
    group = target_group("web", backends, algorithm="round_robin", **sticky("source_ip"))
    for port in ports:
        start_lb(make_config([http_listener(port, "web")], [group], workers=2))
    first = placements(ports[0], SOURCES)
    assert placements(ports[1], SOURCES) == first
    assert len(set(first.values())) == 3, first   # clients spread over every target


def test_source_ip_clients_of_an_unhealthy_target_move_and_come_back(start_lb, backends):
    lb, port = start_checked(start_lb, backends, "source_ip")
    before = placements(port, SOURCES, repeats=1)
    victim = backends[0]
    victim.set_health(False)
    wait_state(lb, key(victim), "unhealthy")
    during = placements(port, SOURCES, repeats=1)
    for source in SOURCES:
        if before[source] == victim.name:
            assert during[source] != victim.name
        else:
            assert during[source] == before[source], source   # nobody else moves
    victim.set_health(True)
    wait_state(lb, key(victim), "healthy", count=2)
    assert placements(port, SOURCES, repeats=1) == before


def test_source_ip_on_a_tcp_listener(start_lb, backends):
    # HTTP backends behind a tcp listener: each connection says where it went.
    port = free_port()
    start_lb(make_config([lbtest.tcp_listener(port, "raw")],
                         [target_group("raw", backends, protocol="tcp", **sticky("source_ip"))], workers=2))
    first = placements(port, SOURCES)
    assert len(set(first.values())) == 3, first


def test_source_ip_removing_one_of_four_targets_moves_about_a_quarter(start_lb, start_backend):
    mine = [start_backend(f"m{i}") for i in range(1, 5)]
    ports = [free_port(), free_port()]
    start_lb(make_config([http_listener(ports[0], "web")],
                         [target_group("web", mine, **sticky("source_ip"))]))
    start_lb(make_config([http_listener(ports[1], "web")],
                         [target_group("web", mine[:3], **sticky("source_ip"))]))
    sources = [f"127.0.{third}.{last}" for third in (1, 2) for last in range(1, 101)]
    before = placements(ports[0], sources, repeats=1)
    after = placements(ports[1], sources, repeats=1)
    moved = [s for s in sources if before[s] != after[s]]
    kept_target_moved = [s for s in moved if before[s] != "m4"]
    assert 0.15 <= len(moved) / len(sources) <= 0.35, len(moved)
    # Clients of the targets still there (nearly all) stay where they were.
    assert len(kept_target_moved) <= 0.05 * len(sources), kept_target_moved


# ---------------------------------------------------------------- Socket.IO-style

async def socket_io_client(port, source):
    """Engine.IO-style polling handshake, one poll, then the WebSocket upgrade,
    carrying the cookies lb and the backend set. Returns (handshake backend,
    None) on success, or (handshake backend, where it failed)."""
    jar = {}

    def poll(query):
        headers = [("Cookie", "; ".join(f"{k}={v}" for k, v in jar.items()))] if jar else []
        with HttpConn(port, source=source) as conn:
            conn.request("GET", "/socket.io/?EIO=4&" + query, headers)
            response = conn.read_response()
        jar.update({name: value for name, (value, _) in set_cookies(response).items()})
        return response

    handshake = poll("transport=polling")
    assert handshake.status == 200 and handshake.body.startswith(b"0{"), handshake
    owner = handshake.header("X-Backend")
    sid = json.loads(handshake.body[1:])["sid"]
    if poll(f"transport=polling&sid={sid}").status != 200:
        return owner, "poll"
    uri = f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket&sid={sid}"
    cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
    try:
        async with websockets.connect(uri, extra_headers={"Cookie": cookie}, local_addr=(source, 0),
                                      open_timeout=10, ping_interval=None) as ws:
            await ws.send("2probe")
            assert await ws.recv() == "2probe"
    except websockets.exceptions.InvalidStatusCode as error:
        assert error.status_code == 400
        return owner, "upgrade"
    return owner, None


@pytest.mark.parametrize("stickiness", [None, "lb_cookie", "app_cookie", "source_ip"])
def test_socket_io_polling_then_websocket_needs_stickiness(start_lb, backends, stickiness):
    extra = {}
    if stickiness == "app_cookie":
        extra = sticky("app_cookie", cookie_name="io")   # Socket.IO's own cookie
    elif stickiness:
        extra = sticky(stickiness)
    port = free_port()
    start_lb(make_config([http_listener(port, "web")], [target_group("web", backends, **extra)]))

    async def clients():
        return [await socket_io_client(port, f"127.0.0.{last}") for last in range(2, 14)]

    results = asyncio.run(asyncio.wait_for(clients(), 120))
    failures = [failed for _, failed in results if failed]
    if stickiness is None:
        # Round robin sends the poll to another backend, which never issued the session.
        assert len(failures) == len(results), results
    else:
        assert failures == [], results
        assert len({owner for owner, _ in results}) > 1, results   # sessions still spread

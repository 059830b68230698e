"""TLS session resumption on https listeners: tickets sealed with keys shared
by every worker (and kept across reloads) let a returning client skip the
full handshake, for TLS 1.2 and TLS 1.3."""

import os
import signal

import pytest

import tlstest
from lbtest import free_port, make_config, target_group, wait_for
from test_tls_termination import https_listener


def start_https(start_lb, backends, certs, workers=2):
    port = free_port()
    lb = start_lb(make_config([https_listener(port, "web", certs)], [target_group("web", backends)],
                              workers=workers))
    return lb, port


def session_file(tmp_path, name):
    return os.path.join(str(tmp_path), name)


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_returning_client_resumes_on_every_worker(start_lb, backends, tls_certs, tmp_path, version):
    _, port = start_https(start_lb, backends, [tls_certs.default], workers=2)
    session = session_file(tmp_path, "session.pem")
    first = tlstest.s_client(port, args=[version, "-sess_out", session])
    assert first.handshake_ok and not first.reused, first
    # Eight connections from fresh ports land on both workers (SO_REUSEPORT
    # hashing); each must resume with the one ticket.
    for _ in range(8):
        again = tlstest.s_client(port, args=[version, "-sess_in", session])
        assert again.reused, again
        assert again.cn == "default.test"


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_ticket_from_another_process_is_not_accepted(start_lb, backends, tls_certs, tmp_path, version):
    """The control for the test above: resumption depends on lb's own keys."""
    _, port = start_https(start_lb, backends, [tls_certs.default])
    _, other_port = start_https(start_lb, backends, [tls_certs.default])
    session = session_file(tmp_path, "session.pem")
    assert tlstest.s_client(port, args=[version, "-sess_out", session]).handshake_ok
    foreign = tlstest.s_client(other_port, args=[version, "-sess_in", session])
    assert foreign.handshake_ok and not foreign.reused, foreign


def test_tickets_survive_a_reload(start_lb, backends, tls_certs, tmp_path):
    lb, port = start_https(start_lb, backends, [tls_certs.default])
    session = session_file(tmp_path, "session.pem")
    assert tlstest.s_client(port, args=["-tls1_3", "-sess_out", session]).handshake_ok
    lb.send_signal(signal.SIGHUP)
    wait_for(lambda: "reloaded: generation 2" in lb.stderr(), what="reload")
    again = tlstest.s_client(port, args=["-tls1_3", "-sess_in", session])
    assert again.reused, again


def test_tls13_resumption_issues_a_fresh_ticket(start_lb, backends, tls_certs):
    """Each TLS 1.3 resumption hands the client a new ticket (tickets are for
    one use, RFC 8446 C.4), and the new one resumes in turn. Without it the
    client's Finished went unacknowledged until the delayed ACK, and a client
    with Nagle on held its request for it: 40 ms per resumed connection."""
    import socket
    import ssl
    _, port = start_https(start_lb, backends, [tls_certs.default], workers=1)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    offered = None
    tickets = []
    for attempt in range(4):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with context.wrap_socket(raw, session=offered) as tls:
                tls.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                answer = b""
                while chunk := tls.recv(4096):
                    answer += chunk
                assert answer.startswith(b"HTTP/1.1 200"), answer[:100]
                assert tls.session_reused == (attempt > 0), attempt
                offered = tls.session
                tickets.append(offered.id)
    assert len(set(tickets)) == 4, "a resumed connection got no ticket of its own"

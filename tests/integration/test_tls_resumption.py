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

"""TLS policies on https listeners: versions and cipher suites each preset
allows, and the alert a client outside the policy gets. Every refusal has a
control showing the same client command succeeds where it is allowed."""

import subprocess

import pytest

import lbtest
import tlstest
from lbtest import free_port, make_config, target_group
from test_tls_termination import https_listener

# OpenSSL 3 clients refuse TLS 1.0/1.1 themselves at the default security level.
OLD_CLIENT = ["-cipher", "DEFAULT@SECLEVEL=0"]


@pytest.fixture
def policy_lb(start_lb, backends, tls_certs):
    def start(policy, certs=None):
        port = free_port()
        listener = https_listener(port, "web", certs or [tls_certs.default], policy=policy)
        lb = start_lb(make_config([listener], [target_group("web", backends)]))
        return lb, port

    return start


@pytest.fixture
def openssl_server(tls_certs):
    """A plain `openssl s_server` with the given options: shows that the client
    command of a refusal test does work where the version is allowed."""
    procs = []

    def start(*args):
        port = free_port()
        proc = subprocess.Popen(["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert", tls_certs.default.cert,
                                 "-key", tls_certs.default.key, "-www", *args],
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(proc)
        lbtest.wait_port(port, proc=proc, what="s_server")
        return port

    yield start
    for proc in procs:
        proc.kill()
        proc.wait()


def test_tls11_refused_under_recommended_with_protocol_version_alert(policy_lb, openssl_server):
    control = openssl_server("-tls1_1", *OLD_CLIENT)
    assert tlstest.s_client(control, args=["-tls1_1", *OLD_CLIENT]).protocol == "TLSv1.1"
    _, port = policy_lb("recommended")
    result = tlstest.s_client(port, args=["-tls1_1", *OLD_CLIENT])
    assert not result.handshake_ok, result
    assert result.alert() == "protocol version", result


def test_tls11_refused_under_compat_too(policy_lb):
    _, port = policy_lb("compat")
    result = tlstest.s_client(port, args=["-tls1_1", *OLD_CLIENT])
    assert not result.handshake_ok and result.alert() == "protocol version", result


def test_modern_is_tls13_only(policy_lb):
    _, port = policy_lb("modern")
    refused = tlstest.s_client(port, args=["-tls1_2"])
    assert not refused.handshake_ok, refused
    assert refused.alert() == "protocol version", refused
    assert tlstest.s_client(port, args=["-tls1_3"]).protocol == "TLSv1.3"
    assert tlstest.s_client(port).protocol == "TLSv1.3"


def test_recommended_allows_tls12_and_tls13(policy_lb):
    _, port = policy_lb("recommended")
    assert tlstest.s_client(port, args=["-tls1_2"]).protocol == "TLSv1.2"
    assert tlstest.s_client(port, args=["-tls1_3"]).protocol == "TLSv1.3"
    assert tlstest.s_client(port).protocol == "TLSv1.3"


@pytest.mark.parametrize("cipher", ["ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384"])
def test_cbc_suites_only_under_compat(policy_lb, cipher):
    _, recommended = policy_lb("recommended")
    refused = tlstest.s_client(recommended, args=["-tls1_2", "-cipher", cipher])
    assert not refused.handshake_ok, refused
    assert refused.alert() == "handshake failure", refused
    _, compat = policy_lb("compat")
    accepted = tlstest.s_client(compat, args=["-tls1_2", "-cipher", cipher])
    assert accepted.handshake_ok, accepted
    assert f"Cipher is {cipher}" in accepted.out


def test_non_forward_secret_suite_refused_even_under_compat(policy_lb, tls_certs):
    _, port = policy_lb("compat", certs=[tls_certs.both_rsa])
    result = tlstest.s_client(port, args=["-tls1_2", "-cipher", "AES128-GCM-SHA256"])
    assert not result.handshake_ok, result
    control = tlstest.s_client(port, args=["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"])
    assert control.handshake_ok, control

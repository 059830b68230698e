"""PROXY protocol: lb tells targets who the client is (proxy_protocol: v1|v2
on tcp and tls_passthrough listeners), byte for byte as the HAProxy spec lays
the header out, before any byte of the client's."""

import socket
import struct

import pytest

import tlstest
from lbtest import HOST, START_TIMEOUT, free_port, make_config, port_accepts, target_group, tcp_listener, wait_for

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def v1_header(client, lb_address, family="TCP4"):
    return f"PROXY {family} {client[0]} {lb_address[0]} {client[1]} {lb_address[1]}\r\n".encode()


def v2_header(client, lb_address):
    """Built from the spec's layout: signature, version 2 + PROXY, TCP over
    IPv4 (0x11) or IPv6 (0x21), address length, addresses, ports."""
    family = socket.AF_INET6 if ":" in client[0] else socket.AF_INET
    addresses = socket.inet_pton(family, client[0]) + socket.inet_pton(family, lb_address[0])
    ports = struct.pack("!HH", client[1], lb_address[1])
    fam_byte = b"\x21" if family == socket.AF_INET6 else b"\x11"
    return V2_SIGNATURE + b"\x21" + fam_byte + struct.pack("!H", len(addresses + ports)) + addresses + ports


def start_tcp(start_lb, backend, version):
    port = free_port()
    listener = tcp_listener(port, "raw", proxy_protocol=version)
    lb = start_lb(make_config([listener], [target_group("raw", [backend.target], protocol="tcp")]))
    return lb, port


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_tcp_listener_sends_the_header_before_client_bytes(start_lb, raw_backend, version):
    backend = raw_backend()
    _, port = start_tcp(start_lb, backend, version)
    with socket.create_connection((HOST, port), timeout=10) as sock:
        client = sock.getsockname()
        header = v1_header(client, (HOST, port)) if version == "v1" else v2_header(client, (HOST, port))
        # The header goes out as soon as the target connection is up, with no
        # client byte to wait for (server-speaks-first protocols work).
        assert backend.wait_connection(header) == header
        sock.sendall(b"hello")
        assert backend.wait_connection(header, len(header) + 5) == header + b"hello"
        # Only the client's bytes come back: the header is not echoed to it.
        received = b""
        while len(received) < len(header) + 5:
            received += sock.recv(4096)
        assert received == header + b"hello"


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_ipv6_client_gets_a_tcp6_header(start_lb, raw_backend, version):
    backend = raw_backend()
    port = free_port()
    listener = tcp_listener(port, "raw", proxy_protocol=version)
    listener["listen"] = f"[::1]:{port}"
    start_lb(make_config([listener], [target_group("raw", [backend.target], protocol="tcp")]), ready_ports=[])
    wait_for(lambda: port_accepts(port, "::1"), timeout=START_TIMEOUT, what="lb on [::1]")
    with socket.create_connection(("::1", port), timeout=10) as sock:
        client = sock.getsockname()[:2]
        header = v1_header(client, ("::1", port), "TCP6") if version == "v1" else v2_header(client, ("::1", port))
        sock.sendall(b"x")
        assert backend.wait_connection(header, len(header) + 1) == header + b"x"


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_tls_passthrough_sends_the_header_then_the_client_hello(start_lb, raw_backend, version):
    backend = raw_backend(echo=False)
    port = free_port()
    listener = {"name": "pass", "protocol": "tls_passthrough", "listen": f"{HOST}:{port}",
                "proxy_protocol": version, "default_action": {"forward": {"target_group": "raw"}}}
    lb = start_lb(make_config([listener], [target_group("raw", [backend.target], protocol="tcp")]))
    hello = tlstest.MemoryTlsClient(server_name="api.example.com").client_hello()
    with socket.create_connection((HOST, port), timeout=10) as sock:
        client = sock.getsockname()
        header = v1_header(client, (HOST, port)) if version == "v1" else v2_header(client, (HOST, port))
        sock.sendall(hello)
        assert backend.wait_connection(header, len(header) + len(hello)) == header + hello
    assert lb.proc.poll() is None


def test_no_header_without_the_setting(start_lb, raw_backend):
    backend = raw_backend()
    port = free_port()
    start_lb(make_config([tcp_listener(port, "raw")], [target_group("raw", [backend.target], protocol="tcp")]))
    with socket.create_connection((HOST, port), timeout=10) as sock:
        sock.sendall(b"plain")
        assert backend.wait_connection(b"plain") == b"plain"

"""TLS helpers for lb's integration tests: certificates made with the
openssl CLI, `openssl s_client` runs and what they printed, raw ClientHello
bytes from a real client.
"""

import os
import re
import socket
import ssl
import subprocess
import time

from lbtest import HOST

OPENSSL = "openssl"


class Cert:
    def __init__(self, cert, key, cn):
        self.cert = cert
        self.key = key
        self.cn = cn

    @property
    def config(self):
        """The listener tls.certificates entry."""
        return {"cert": self.cert, "key": self.key}

    @property
    def tls(self):
        """For lbtest.Backend(tls=...)."""
        return (self.cert, self.key)


def _run(*args):
    subprocess.run([OPENSSL, *args], check=True, capture_output=True, timeout=60)


def make_key(path, kind="ec"):
    if kind == "ec":
        _run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path)
    else:
        _run("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", path)
    return path


def make_cert(directory, name, cn, sans=(), kind="ec", ca=None, key=None, days=30):
    """A certificate for `cn` with SAN entries like "DNS:a.test" or "IP:127.0.0.1";
    self-signed, or signed by `ca` (a Cert). `key` reuses an existing key file."""
    cert_path = os.path.join(directory, f"{name}.pem")
    key_path = key or make_key(os.path.join(directory, f"{name}.key"), kind)
    san = ["-addext", "subjectAltName=" + ",".join(sans)] if sans else []
    if ca is None:
        _run("req", "-x509", "-new", "-key", key_path, "-out", cert_path, "-days", str(days),
             "-subj", f"/CN={cn}", *san)
    else:
        csr = os.path.join(directory, f"{name}.csr")
        _run("req", "-new", "-key", key_path, "-out", csr, "-subj", f"/CN={cn}", *san)
        _run("x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial",
             "-copy_extensions", "copyall", "-days", str(days), "-out", cert_path)
    return Cert(cert_path, key_path, cn)


def make_ca(directory, name="ca"):
    cert_path = os.path.join(directory, f"{name}.pem")
    key_path = make_key(os.path.join(directory, f"{name}.key"))
    _run("req", "-x509", "-new", "-key", key_path, "-out", cert_path, "-days", "30",
         "-subj", f"/CN={name}", "-addext", "basicConstraints=critical,CA:true",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return Cert(cert_path, key_path, name)


class CertSet:
    """The certificates most TLS tests use, made once per session:
    default (ECDSA, default.test), exact (ECDSA, api.example.com), wildcard
    (ECDSA, *.example.com), both_ec + both_rsa (same name, dual.example.com),
    a CA and a backend certificate it signed (backend.test + 127.0.0.1)."""

    def __init__(self, directory):
        self.dir = directory
        self.default = make_cert(directory, "default", "default.test", ["DNS:default.test"])
        self.exact = make_cert(directory, "exact", "api.example.com", ["DNS:api.example.com"])
        self.wildcard = make_cert(directory, "wildcard", "wildcard.example.com", ["DNS:*.example.com"])
        self.both_ec = make_cert(directory, "both-ec", "dual-ecdsa", ["DNS:dual.example.com"])
        self.both_rsa = make_cert(directory, "both-rsa", "dual-rsa", ["DNS:dual.example.com"],
                                  kind="rsa")
        self.ca = make_ca(directory)
        self.backend = make_cert(directory, "backend", "backend.test",
                                 ["DNS:backend.test", "IP:127.0.0.1"], ca=self.ca)

    def path(self, name):
        return os.path.join(self.dir, name)


# ---------------------------------------------------------------- s_client

class SClient:
    """What one `openssl s_client` run printed."""

    def __init__(self, completed):
        self.returncode = completed.returncode
        self.out = completed.stdout.decode(errors="replace")
        self.err = completed.stderr.decode(errors="replace")

    @property
    def text(self):
        return self.out + self.err

    @property
    def subject(self):
        """"CN = x" of the peer certificate, or None."""
        match = re.search(r"^subject=(.*)$", self.out, re.M)
        return match.group(1).strip() if match else None

    @property
    def cn(self):
        match = re.search(r"CN\s*=\s*([^,/\n]+)", self.subject or "")
        return match.group(1).strip() if match else None

    @property
    def protocol(self):
        """The negotiated version from the session block (the "New, TLSv1.x"
        line names the cipher's version, not the connection's)."""
        if not re.search(r"^(?:New|Reused), ", self.out, re.M):
            return None
        match = re.search(r"^\s+Protocol\s*:\s*(\S+)", self.out, re.M)
        return match.group(1) if match else None

    @property
    def reused(self):
        return re.search(r"^Reused, ", self.out, re.M) is not None

    @property
    def handshake_ok(self):
        return self.protocol is not None and "Cipher is (NONE)" not in self.out

    @property
    def peer_signature_type(self):
        match = re.search(r"^Peer signature type: (\S+)", self.out, re.M)
        return match.group(1) if match else None

    @property
    def alpn(self):
        match = re.search(r"^ALPN protocol: (\S+)", self.out, re.M)
        return match.group(1) if match else None

    def alert(self):
        """The alert text OpenSSL reported, e.g. "protocol version", or None."""
        match = re.search(r"alert ([a-z ]+?)(?::|$)", self.err, re.M)
        return match.group(1).strip() if match else None

    def __repr__(self):
        return f"<s_client rc={self.returncode}\n{self.out[-3000:]}\n{self.err[-3000:]}>"


def s_client(port, servername=None, args=(), request=b"", host=HOST, timeout=15):
    """Runs s_client against host:port; servername None sends no SNI.

    It sends `request` (default: a GET with Connection: close) and waits
    for the server to close the connection: s_client quitting at stdin EOF
    could cut the handshake summary short and miss TLS 1.3 session tickets."""
    if request == b"":
        request = http_close_request(servername or "lb.test")
    cmd = [OPENSSL, "s_client", "-connect", f"{host}:{port}", "-ign_eof"]
    cmd += ["-servername", servername] if servername else ["-noservername"]
    cmd += list(args)
    completed = subprocess.run(cmd, input=request, capture_output=True, timeout=timeout)
    return SClient(completed)


def http_close_request(host="lb.test", path="/"):
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()


# ---------------------------------------------------------------- raw ClientHello

class MemoryTlsClient:
    """A TLS client driven by hand over a raw socket (ssl.MemoryBIO), so a test
    can send the ClientHello in pieces and still finish the handshake."""

    def __init__(self, server_name=None, context=None):
        if context is None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.obj = context.wrap_bio(self.incoming, self.outgoing, server_hostname=server_name)

    def client_hello(self):
        """The first flight (the ClientHello records) as bytes."""
        try:
            self.obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        return self.outgoing.read()

    def finish_handshake(self, sock, timeout=10.0):
        """Completes the handshake over `sock` after the hello went out."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.obj.do_handshake()
                pending = self.outgoing.read()
                if pending:
                    sock.sendall(pending)
                return
            except ssl.SSLWantReadError:
                pending = self.outgoing.read()
                if pending:
                    sock.sendall(pending)
                sock.settimeout(max(0.1, deadline - time.monotonic()))
                data = sock.recv(65536)
                if not data:
                    raise ConnectionError("closed during the handshake")
                self.incoming.write(data)

    def encrypt(self, data):
        """Application data as TLS records to send."""
        self.obj.write(data)
        return self.outgoing.read()

    def read_all(self, sock, timeout=10.0):
        """Decrypted bytes until the peer closes (close_notify or FIN)."""
        out = bytearray()
        sock.settimeout(timeout)
        while True:
            try:
                chunk = self.obj.read(65536)
                if not chunk:  # close_notify seen
                    return bytes(out)
                out += chunk
                continue
            except ssl.SSLWantReadError:
                pass
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return bytes(out)
            data = sock.recv(65536)
            if not data:
                return bytes(out)
            self.incoming.write(data)

    def peer_cn(self):
        cert = self.obj.getpeercert(binary_form=True)
        der = ssl.DER_cert_to_PEM_cert(cert)
        out = subprocess.run([OPENSSL, "x509", "-noout", "-subject"], input=der.encode(),
                             capture_output=True, check=True).stdout.decode()
        match = re.search(r"CN\s*=\s*([^,/\n]+)", out)
        return match.group(1).strip() if match else None


def send_in_pieces(sock, data, size=1, pause=0.002):
    """Sends `data` in `size`-byte segments (TCP_NODELAY, a pause between)."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for i in range(0, len(data), size):
        sock.sendall(data[i:i + size])
        time.sleep(pause)

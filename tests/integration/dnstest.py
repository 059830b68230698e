"""A real DNS server for tests: dnsmasq (Debian's dnsmasq-base) on a free
loopback port, answering only from files the test writes.

A records come from a hosts file, re-read on SIGHUP (set_hosts). SRV records
come from dnsmasq's config, which it reads only at start: set_srv restarts it
on the same port. stop() takes it away (lb then sees timeouts)."""

import getpass
import os
import shutil
import signal
import socket
import struct
import subprocess

import lbtest

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"


def free_udp_port():
    """A port free for both UDP and TCP on 127.0.0.1 (dnsmasq takes both)."""
    while True:
        port = lbtest.free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            try:
                udp.bind((lbtest.HOST, port))
                return port
            except OSError:
                continue


def query_a(port, name, timeout=1.0):
    """The A records dnsmasq answers for `name` (a list of IPs), or None if it
    does not answer."""
    header = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    question = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack("!HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.sendto(header + question, (lbtest.HOST, port))
            answer = sock.recv(4096)
        except OSError:
            return None
    count = struct.unpack("!H", answer[6:8])[0]
    at = 12 + len(question)
    ips = []
    for _ in range(count):
        at += 2 if answer[at] & 0xC0 == 0xC0 else len(name) + 2
        rtype, _, _, length = struct.unpack("!HHIH", answer[at:at + 10])
        at += 10
        if rtype == 1:
            ips.append(socket.inet_ntoa(answer[at:at + length]))
        at += length
    return ips


class Dnsmasq:
    def __init__(self, workdir, hosts=(), srv=(), ttl=1):
        """hosts: (ip, name) pairs; srv: (service, target, port, priority, weight)."""
        self.workdir = workdir
        self.port = free_udp_port()
        self.ttl = ttl
        self.hosts_path = os.path.join(workdir, "dns-hosts")
        self.conf_path = os.path.join(workdir, "dnsmasq.conf")
        self.log_path = os.path.join(workdir, "dnsmasq.log")
        self.proc = None
        self._write_hosts(hosts)
        self._write_srv(srv)
        self.start()

    @property
    def nameserver(self):
        return f"{lbtest.HOST}:{self.port}"

    def _write_hosts(self, hosts):
        with open(self.hosts_path, "w") as f:
            f.writelines(f"{ip} {name}\n" for ip, name in hosts)

    def _write_srv(self, srv):
        with open(self.conf_path, "w") as f:
            for service, target, port, priority, weight in srv:
                f.write(f"srv-host={service},{target},{port},{priority},{weight}\n")

    def start(self):
        self._log = open(self.log_path, "a")
        self.proc = subprocess.Popen(
            [DNSMASQ, "--keep-in-foreground", f"--port={self.port}", f"--listen-address={lbtest.HOST}",
             "--bind-interfaces", "--no-resolv", "--no-hosts", f"--addn-hosts={self.hosts_path}",
             # Authoritative for .test: an unknown name is NXDOMAIN, not REFUSED.
             "--local=/test/",
             f"--local-ttl={self.ttl}", f"--conf-file={self.conf_path}", "--pid-file=",
             f"--user={getpass.getuser()}", "--log-queries", "--log-facility=-"],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        # Answering (not just bound): a name every test server has.
        lbtest.wait_for(lambda: self.proc.poll() is not None or query_a(self.port, "localhost.invalid") is not None,
                        timeout=10, what="dnsmasq answering")
        if self.proc.poll() is not None:
            raise RuntimeError(f"dnsmasq exited with {self.proc.returncode}; see {self.log_path}")

    def set_hosts(self, hosts):
        """New A records, live (SIGHUP makes dnsmasq re-read the file)."""
        self._write_hosts(hosts)
        self.proc.send_signal(signal.SIGHUP)
        expected = {}
        for ip, name in hosts:
            expected.setdefault(name, set()).add(ip)
        for name, ips in expected.items():
            lbtest.wait_for(lambda: set(query_a(self.port, name) or ()) == ips, timeout=5,
                            what=f"dnsmasq serving {name} -> {sorted(ips)}")

    def set_srv(self, srv):
        """New SRV records: dnsmasq reads them only at start."""
        self._write_srv(srv)
        self.stop()
        self.start()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)
        if self.proc:
            self._log.close()

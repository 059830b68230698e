"""A frame-level HTTP/2 client for the tests, on python3-h2: streams are
driven by hand, so tests can hold windows shut, reset streams, flood
frames or send raw frames (hyperframe) that no well-behaved client would.

    client = H2Client.connect(port, tls=True)
    sid = client.request("/path", body=b"...")
    response = client.response(sid)          # waits, with a deadline
"""

import socket
import ssl
import time

import h2.config
import h2.connection
import h2.events
import h2.settings

from lbtest import HOST

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


class StreamState:
    def __init__(self):
        self.headers = None          # final response headers, dict-like list of pairs
        self.informational = []      # 1xx header lists
        self.data = bytearray()
        self.ended = False
        self.reset_code = None

    @property
    def status(self):
        return int(self.header(":status")) if self.headers else None

    def header(self, name):
        for key, value in self.headers or []:
            if key == name:
                return value
        return None

    def header_values(self, name):
        return [value for key, value in self.headers or [] if key == name]


class H2Client:
    def __init__(self, sock, settings=None, auto_ack=True, preface_sent=False):
        self.sock = sock
        # Reopen windows as data arrives: True (stream and connection),
        # "connection" (the connection's only), False (neither).
        self.auto_ack = auto_ack
        config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=config)
        self.conn.local_settings = h2.settings.Settings(client=True, initial_values=settings or {})
        self.conn.initiate_connection()
        if preface_sent:  # the caller sent it (in pieces, say): only our SETTINGS now
            data = self.conn.data_to_send()
            assert data.startswith(PREFACE)
            self.sock.sendall(data[len(PREFACE):])
        self.in_pump = False
        self.streams = {}
        self.goaway = None           # (error_code, last_stream_id)
        self.closed = False          # the server closed the connection
        self.remote_settings = {}
        self.pings_acked = 0
        self.flush()

    @classmethod
    def connect(cls, port, tls=True, host=HOST, server_name="localhost", settings=None, auto_ack=True, timeout=10):
        sock = socket.create_connection((host, port), timeout=timeout)
        if tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            context.set_alpn_protocols(["h2", "http/1.1"])
            sock = context.wrap_socket(sock, server_hostname=server_name)
            assert sock.selected_alpn_protocol() == "h2", sock.selected_alpn_protocol()
        return cls(sock, settings=settings, auto_ack=auto_ack)

    def flush(self):
        data = self.conn.data_to_send()
        if not data:
            return
        try:
            self.sock.sendall(data)
        except (ssl.SSLError, ConnectionError):
            # The server closed on us (after a GOAWAY, say); what it sent
            # before is still read by pump().
            if self.goaway is None and not self.in_pump:
                raise
            self.closed = True

    def send_raw(self, data):
        self.sock.sendall(data)

    def request(self, path, method="GET", headers=(), body=None, end_stream=True, authority="lb.test",
                scheme="https"):
        sid = self.conn.get_next_available_stream_id()
        fields = [(":method", method), (":path", path), (":scheme", scheme), (":authority", authority)]
        fields += list(headers)
        self.streams[sid] = StreamState()
        self.conn.send_headers(sid, fields, end_stream=body is None and end_stream)
        if body is not None:
            self.send_body(sid, body, end_stream=end_stream)
        self.flush()
        return sid

    def send_body(self, sid, body, end_stream=True, deadline=None):
        """Sends as the windows allow, reading the server's frames meanwhile."""
        deadline = deadline or time.monotonic() + 30
        view = memoryview(body)
        while view:
            window = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size)
            if window <= 0:
                self.pump(deadline, until=lambda: self.conn.local_flow_control_window(sid) > 0
                          or self.streams[sid].reset_code is not None)
                if self.streams[sid].reset_code is not None:
                    return
                continue
            self.conn.send_data(sid, bytes(view[:window]))
            view = view[window:]
            self.flush()
        if end_stream:
            self.conn.end_stream(sid)
            self.flush()

    def reset(self, sid, code=8):
        self.conn.reset_stream(sid, error_code=code)
        self.flush()

    def pump(self, deadline, until):
        """Reads and handles frames until until() is true; False at the deadline or close."""
        while not until():
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.closed:
                return until()
            self.sock.settimeout(min(remaining, 1.0))
            try:
                data = self.sock.recv(65536)
            except (socket.timeout, TimeoutError):
                continue
            except (ConnectionResetError, ssl.SSLError, OSError):
                data = b""
            if not data:
                self.closed = True
                return until()
            self.handle(data)
        return True

    def handle(self, data):
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            self.closed = True
            return
        self.in_pump = True
        try:
            self._handle_events(events)
        finally:
            self.in_pump = False

    def _handle_events(self, events):
        for event in events:
            stream = self.streams.get(getattr(event, "stream_id", None) or 0)
            if isinstance(event, h2.events.ResponseReceived):
                stream.headers = event.headers
            elif isinstance(event, h2.events.InformationalResponseReceived):
                stream.informational.append(event.headers)
            elif isinstance(event, h2.events.DataReceived):
                stream.data += event.data
                if self.auto_ack == "connection":
                    self.conn.increment_flow_control_window(event.flow_controlled_length)
                elif self.auto_ack:
                    self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                stream.ended = True
            elif isinstance(event, h2.events.StreamReset):
                if stream:
                    stream.reset_code = event.error_code
            elif isinstance(event, h2.events.ConnectionTerminated):
                self.goaway = (event.error_code, event.last_stream_id)
            elif isinstance(event, h2.events.RemoteSettingsChanged):
                self.remote_settings.update({k: v.new_value for k, v in event.changed_settings.items()})
            elif isinstance(event, h2.events.PingAckReceived):
                self.pings_acked += 1
        self.flush()

    def response(self, sid, timeout=15):
        stream = self.streams[sid]
        self.pump(time.monotonic() + timeout, until=lambda: stream.ended or stream.reset_code is not None)
        return stream

    def wait_goaway(self, timeout=15):
        self.pump(time.monotonic() + timeout, until=lambda: self.goaway is not None)
        return self.goaway

    def wait_closed(self, timeout=15):
        self.pump(time.monotonic() + timeout, until=lambda: False)
        return self.closed

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def raw_connection(port, tls=True, host=HOST, timeout=10):
    """A socket that has negotiated h2 (or plain, for h2c) and sent nothing yet."""
    sock = socket.create_connection((host, port), timeout=timeout)
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.set_alpn_protocols(["h2"])
        sock = context.wrap_socket(sock, server_hostname="localhost")
    return sock


def read_until_closed(sock, timeout=10):
    """Everything the server sends until it closes (or the deadline)."""
    deadline = time.monotonic() + timeout
    received = bytearray()
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            data = sock.recv(65536)
        except (socket.timeout, TimeoutError):
            break
        except (ConnectionResetError, ssl.SSLError, OSError):
            return bytes(received), True
        if not data:
            return bytes(received), True
        received += data
    return bytes(received), False


def parse_frames(data):
    """The whole frames (hyperframe objects) in raw server bytes."""
    from hyperframe.frame import Frame
    frames = []
    offset = 0
    while offset + 9 <= len(data):
        frame, length = Frame.parse_frame_header(memoryview(data[offset:offset + 9]))
        body = data[offset + 9:offset + 9 + length]
        if len(body) < length:
            break
        frame.parse_body(memoryview(body))
        frames.append(frame)
        offset += 9 + length
    return frames


def goaway_codes(data):
    """The error codes of the GOAWAY frames in raw server bytes."""
    from hyperframe.frame import GoAwayFrame
    return [frame.error_code for frame in parse_frames(data) if isinstance(frame, GoAwayFrame)]


def request_frame(stream_id, path, authority="lb.test", encoder=None):
    """A HEADERS frame (END_HEADERS, END_STREAM) for GET path, HPACK-encoded
    by `encoder` (one hpack.Encoder per connection)."""
    from hyperframe.frame import HeadersFrame
    frame = HeadersFrame(stream_id, flags=["END_HEADERS", "END_STREAM"])
    frame.data = encoder.encode([(":method", "GET"), (":path", path), (":scheme", "https"),
                                 (":authority", authority)])
    return frame.serialize()

// Socket options of the TCP connections lb proxies. A listening socket
// given them passes them on: Linux copies TCP_NODELAY and the keepalive
// settings into every socket it accepts, which saves setting them on each.
#pragma once

#include "conf/config.h"

namespace lb {

// No Nagle delay: lb batches its own writes (TcpStream sends once a turn).
void set_tcp_nodelay(int fd);
// SO_RCVBUF: a fixed receive buffer (the kernel doubles `bytes` for its
// bookkeeping and caps it at net.core.rmem_max), which ends autotuning.
void set_receive_buffer(int fd, int bytes);
// Leaves the kernel's interactive ("pingpong") ACK mode until lb next
// sends on the socket: ACKs go out as the bytes are read instead of
// waiting for the delayed-ACK timer (40 ms and more).
void set_tcp_quickack(int fd);
// A listener's tcp_keepalive (on, with its timings, or off).
void set_tcp_keepalive(int fd, const conf::TcpKeepalive& keepalive);
// Both, for a listening socket and so for every client it accepts.
void set_client_socket_options(int fd, const conf::TcpKeepalive& keepalive);

}  // namespace lb

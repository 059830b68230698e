#include "lb/io/socket_options.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace lb {

void set_tcp_nodelay(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

void set_receive_buffer(int fd, int bytes) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
}

void set_tcp_quickack(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
}

void set_tcp_keepalive(int fd, const conf::TcpKeepalive& keepalive) {
    int enabled = keepalive.enabled ? 1 : 0;
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &enabled, sizeof(enabled));
    if (!keepalive.enabled) return;
    // The loader keeps these whole seconds within the kernel's limits.
    int idle = static_cast<int>(keepalive.idle.count() / 1000);
    int interval = static_cast<int>(keepalive.interval.count() / 1000);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &keepalive.count, sizeof(keepalive.count));
}

void set_client_socket_options(int fd, const conf::TcpKeepalive& keepalive) {
    set_tcp_nodelay(fd);
    set_tcp_keepalive(fd, keepalive);
}

}  // namespace lb

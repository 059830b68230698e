#include "lb/io/listen_socket.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace lb {

Result<UniqueFd> open_listen_socket(const SocketAddress& address, ListenSocketSet::Kind kind, bool reuse_port,
                               int backlog) {
    const bool stream = kind == ListenSocketSet::Kind::stream;
    UniqueFd owned(::socket(address.family(), (stream ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!owned) return Error{"socket(): " + std::string(strerror(errno))};
    const int fd = owned.get();
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (reuse_port) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    // [::]:80 and 0.0.0.0:80 are separate listeners, as in nginx.
    if (address.family() == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    // A udp listener on a wildcard address must learn which address
    // each datagram came to, to answer from it (UdpListener).
    if (!stream && address.is_any()) {
        if (address.family() == AF_INET) setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
        else setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
    }
    if (::bind(fd, address.sa(), address.len()) != 0)
        return Error{"cannot listen on " + address.to_string() + ": " + strerror(errno)};
    if (stream && ::listen(fd, backlog) != 0) return Error{"listen() on " + address.to_string() + ": " + strerror(errno)};
    return owned;
}

Result<std::shared_ptr<ListenSocketSet>> ListenSocketSet::open(const SocketAddress& address, Kind kind, int count) {
    std::shared_ptr<ListenSocketSet> set(new ListenSocketSet(address, kind));
    for (int i = 0; i < count; ++i) {
        auto fd = open_listen_socket(address, kind, true, 4096);
        if (!fd) return Error{fd.error()};
        set->fds_.push_back(std::move(*fd));
    }
    return set;
}

Result<std::shared_ptr<ListenSocketSet>> ListenSocketPool::get(const SocketAddress& address,
                                                               ListenSocketSet::Kind kind, int count) {
    std::string key = (kind == ListenSocketSet::Kind::stream ? "tcp " : "udp ") + address.to_string();
    std::erase_if(sets_, [](const auto& entry) { return entry.second.expired(); });
    auto& slot = sets_[key];
    if (auto existing = slot.lock(); existing && existing->count() == count) return existing;
    auto opened = ListenSocketSet::open(address, kind, count);
    if (!opened) return opened;
    slot = *opened;
    return opened;
}

}  // namespace lb

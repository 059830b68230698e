#include "lb/io/listen_socket.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "lb/io/inherited_sockets.h"
#include "lb/io/socket_options.h"

namespace lb {

namespace {

// A udp listener on a wildcard address must learn which address each
// datagram came to, to answer from it (UdpListener).
void ask_for_destination_address(int fd, const SocketAddress& address) {
    if (!address.is_any()) return;
    int one = 1;
    if (address.family() == AF_INET) setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
    else setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
}

}  // namespace

Status prepare_inherited_socket(int fd, const SocketAddress& address, ListenSocketSet::Kind kind, int backlog,
                                const conf::TcpKeepalive* client_keepalive) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)
        return Error{"inherited socket for " + address.to_string() + ": " + strerror(errno)};
    if (kind == ListenSocketSet::Kind::datagram) {
        ask_for_destination_address(fd, address);
        return Ok{};
    }
    if (client_keepalive) set_client_socket_options(fd, *client_keepalive);
    int listening = 0;
    socklen_t len = sizeof(listening);
    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len);
    if (!listening && ::listen(fd, backlog) != 0)
        return Error{"listen() on inherited socket for " + address.to_string() + ": " + strerror(errno)};
    return Ok{};
}

Result<UniqueFd> open_listen_socket(const SocketAddress& address, ListenSocketSet::Kind kind, bool reuse_port,
                                    int backlog, const conf::TcpKeepalive* client_keepalive) {
    const bool stream = kind == ListenSocketSet::Kind::stream;
    UniqueFd owned(::socket(address.family(), (stream ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!owned) return Error{"socket(): " + std::string(strerror(errno))};
    const int fd = owned.get();
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (reuse_port) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    // [::]:80 and 0.0.0.0:80 are separate listeners, as in nginx.
    if (address.family() == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (!stream) ask_for_destination_address(fd, address);
    if (stream && client_keepalive) set_client_socket_options(fd, *client_keepalive);
    if (::bind(fd, address.sa(), address.len()) != 0)
        return Error{"cannot listen on " + address.to_string() + ": " + strerror(errno)};
    if (stream && ::listen(fd, backlog) != 0) return Error{"listen() on " + address.to_string() + ": " + strerror(errno)};
    return owned;
}

Result<std::shared_ptr<ListenSocketSet>> ListenSocketSet::open(const SocketAddress& address, Kind kind, int workers,
                                                               std::vector<UniqueFd> inherited,
                                                               const conf::TcpKeepalive* client_keepalive) {
    constexpr int kBacklog = 4096;
    std::shared_ptr<ListenSocketSet> set(new ListenSocketSet(address, kind, workers));
    if (inherited.empty()) {
        for (int i = 0; i < workers; ++i) {
            auto fd = open_listen_socket(address, kind, true, kBacklog, client_keepalive);
            if (!fd) return Error{fd.error()};
            set->fds_.push_back(std::move(*fd));
        }
        set->distinct_ = workers;
        return set;
    }
    for (auto& fd : inherited) {
        if (auto prepared = prepare_inherited_socket(fd.get(), address, kind, kBacklog, client_keepalive); !prepared)
            return Error{prepared.error()};
        set->fds_.push_back(std::move(fd));
    }
    // Fewer sockets than workers: share them rather than open more, which
    // would join the group and take connections before this lb is ready.
    const size_t given = set->fds_.size();
    set->distinct_ = static_cast<int>(given);
    for (size_t i = given; i < static_cast<size_t>(workers); ++i) {
        UniqueFd copy(fcntl(set->fds_[i % given].get(), F_DUPFD_CLOEXEC, 0));
        if (!copy) return Error{"dup() of inherited socket for " + address.to_string() + ": " + strerror(errno)};
        set->fds_.push_back(std::move(copy));
    }
    return set;
}

Result<std::shared_ptr<ListenSocketSet>> ListenSocketPool::get(const SocketAddress& address,
                                                               ListenSocketSet::Kind kind, int workers,
                                                               const conf::TcpKeepalive* client_keepalive) {
    std::string key = (kind == ListenSocketSet::Kind::stream ? "tcp " : "udp ") + address.to_string();
    std::erase_if(sets_, [](const auto& entry) { return entry.second.expired(); });
    auto& slot = sets_[key];
    if (auto existing = slot.lock(); existing && existing->workers() == workers) return existing;
    auto opened = ListenSocketSet::open(address, kind, workers,
                                        inherited_ ? inherited_->take(address, kind) : std::vector<UniqueFd>{},
                                        client_keepalive);
    if (!opened) return opened;
    slot = *opened;
    return opened;
}

}  // namespace lb

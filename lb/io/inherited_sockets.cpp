#include "lb/io/inherited_sockets.h"

#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace lb {

InheritedSockets::InheritedSockets(const std::vector<int>& fds, std::string origin,
                                   std::vector<std::string>* problems)
    : origin_(std::move(origin)) {
    for (int raw : fds) {
        UniqueFd fd(raw);
        // Passed across exec without close-on-exec; lb's own children (the
        // next upgrade) get them only when asked.
        fcntl(raw, F_SETFD, FD_CLOEXEC);
        int type = 0;
        socklen_t type_len = sizeof(type);
        SocketAddress address;
        if (getsockopt(raw, SOL_SOCKET, SO_TYPE, &type, &type_len) != 0 ||
            !(address = SocketAddress::local_of(raw)).valid()) {
            problems->push_back("descriptor " + std::to_string(raw) + " from " + origin_ +
                                " is not a socket: " + strerror(errno));
            continue;
        }
        if ((address.family() != AF_INET && address.family() != AF_INET6) ||
            (type != SOCK_STREAM && type != SOCK_DGRAM)) {
            problems->push_back("descriptor " + std::to_string(raw) + " from " + origin_ +
                                " is not a TCP or UDP socket: ignored");
            continue;
        }
        entries_.push_back({address, type == SOCK_STREAM ? ListenSocketSet::Kind::stream
                                                         : ListenSocketSet::Kind::datagram,
                            std::move(fd)});
    }
}

std::vector<UniqueFd> InheritedSockets::take(const SocketAddress& address, ListenSocketSet::Kind kind) {
    std::vector<UniqueFd> taken;
    for (auto& entry : entries_)
        if (entry.fd && entry.kind == kind && entry.address == address) taken.push_back(std::move(entry.fd));
    std::erase_if(entries_, [](const Entry& entry) { return !entry.fd; });
    return taken;
}

std::vector<std::string> InheritedSockets::close_unclaimed() {
    std::vector<std::string> closed;
    for (const auto& entry : entries_)
        closed.push_back((entry.kind == ListenSocketSet::Kind::stream ? "tcp " : "udp ") + entry.address.to_string());
    entries_.clear();
    return closed;
}

}  // namespace lb

// ListenSocketSet: the SO_REUSEPORT sockets of one listener address, one
// per worker when lb opens them itself, so the kernel spreads new
// connections over the workers. Sockets handed over at start
// (InheritedSockets) are kept as they are: fewer than the workers are
// shared (a descriptor duplicated per worker), more are spread over them
// (worker i serves every socket j with j % workers == i); either way no
// socket of the group the previous owner served is dropped or added.
//
// Threading: opened on the main thread; snapshots share it by shared_ptr, so
// a reload that keeps an address keeps its sockets (no accept gap). Worker i
// only touches the fds it serves. The fds close when the last snapshot
// naming them goes.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "conf/config.h"
#include "lb/base/net_address.h"
#include "lb/base/result.h"
#include "lb/base/unique_fd.h"

namespace lb {

class ListenSocketSet {
public:
    enum class Kind { stream, datagram };

    // `inherited` empty: opens one socket per worker. `client_keepalive`
    // (stream sockets): the options every accepted socket inherits are set
    // before any connection can arrive (set_client_socket_options).
    static Result<std::shared_ptr<ListenSocketSet>> open(const SocketAddress& address, Kind kind, int workers,
                                                         std::vector<UniqueFd> inherited = {},
                                                         const conf::TcpKeepalive* client_keepalive = nullptr);

    int fd(int index) const { return fds_[static_cast<size_t>(index)].get(); }
    // Descriptors in the set: at least `workers()`.
    int count() const { return static_cast<int>(fds_.size()); }
    // The first `distinct()` descriptors are distinct sockets; the rest are
    // duplicates of them (fewer sockets were inherited than there are
    // workers), which a binary upgrade need not hand on.
    int distinct() const { return distinct_; }
    int workers() const { return workers_; }
    // Does `worker` serve descriptor `index`?
    bool served_by(int index, int worker) const { return index % workers_ == worker; }
    const SocketAddress& address() const { return address_; }
    Kind kind() const { return kind_; }

private:
    ListenSocketSet(const SocketAddress& address, Kind kind, int workers)
        : address_(address), kind_(kind), workers_(workers) {}
    SocketAddress address_;
    Kind kind_;
    int workers_;
    int distinct_ = 0;
    std::vector<UniqueFd> fds_;
};

// One bound socket, non-blocking and close-on-exec, listening with
// `backlog` if it is a stream socket. IPv6 sockets are IPv6-only. With
// `reuse_port`, several may share the address (one per worker).
Result<UniqueFd> open_listen_socket(const SocketAddress& address, ListenSocketSet::Kind kind, bool reuse_port,
                                    int backlog, const conf::TcpKeepalive* client_keepalive = nullptr);

// What lb sets on the sockets it opens (non-blocking, IP_PKTINFO on a
// wildcard udp socket, listening), set on one it was handed instead.
Status prepare_inherited_socket(int fd, const SocketAddress& address, ListenSocketSet::Kind kind, int backlog,
                                const conf::TcpKeepalive* client_keepalive = nullptr);

class InheritedSockets;

// Main thread only: hands out the existing set for an address, or makes one
// from the inherited sockets bound to it, or opens one.
class ListenSocketPool {
public:
    // An existing set keeps its options: workers set the reloaded ones
    // when they take the new configuration up.
    Result<std::shared_ptr<ListenSocketSet>> get(const SocketAddress& address, ListenSocketSet::Kind kind,
                                                 int workers, const conf::TcpKeepalive* client_keepalive = nullptr);
    // Sockets handed over at start; the caller keeps `inherited` alive while
    // it is set.
    void inherit(InheritedSockets* inherited) { inherited_ = inherited; }

private:
    std::map<std::string, std::weak_ptr<ListenSocketSet>> sets_;
    InheritedSockets* inherited_ = nullptr;
};

}  // namespace lb

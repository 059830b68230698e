// ListenSocketSet: one SO_REUSEPORT socket per worker bound to a listener
// address, so the kernel spreads new connections over the workers.
//
// Threading: opened on the main thread; snapshots share it by shared_ptr, so
// a reload that keeps an address keeps its sockets (no accept gap). Worker i
// only touches fd(i). The fds close when the last snapshot naming them goes.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lb/base/net_address.h"
#include "lb/base/result.h"
#include "lb/base/unique_fd.h"

namespace lb {

class ListenSocketSet {
public:
    enum class Kind { stream, datagram };

    static Result<std::shared_ptr<ListenSocketSet>> open(const SocketAddress& address, Kind kind, int count);

    int fd(int worker) const { return fds_[static_cast<size_t>(worker)].get(); }
    int count() const { return static_cast<int>(fds_.size()); }
    const SocketAddress& address() const { return address_; }
    Kind kind() const { return kind_; }

private:
    ListenSocketSet(const SocketAddress& address, Kind kind) : address_(address), kind_(kind) {}
    SocketAddress address_;
    Kind kind_;
    std::vector<UniqueFd> fds_;
};

// One bound socket, non-blocking and close-on-exec, listening with
// `backlog` if it is a stream socket. IPv6 sockets are IPv6-only. With
// `reuse_port`, several may share the address (one per worker).
Result<UniqueFd> open_listen_socket(const SocketAddress& address, ListenSocketSet::Kind kind, bool reuse_port,
                               int backlog);

// Main thread only: hands out the existing set for an address, or opens one.
class ListenSocketPool {
public:
    Result<std::shared_ptr<ListenSocketSet>> get(const SocketAddress& address, ListenSocketSet::Kind kind, int count);

private:
    std::map<std::string, std::weak_ptr<ListenSocketSet>> sets_;
};

}  // namespace lb

// InheritedSockets: listening sockets lb was handed at start instead of
// opening them, by the lb it replaces (binary upgrade) or by systemd (socket
// activation). Each is known by what the kernel says it is (getsockname,
// SO_TYPE), so whoever passes them passes descriptor numbers only.
//
// Threading: main thread only, during start-up (the first build takes what
// matches its listeners and the admin API; the rest is closed).
#pragma once

#include <string>
#include <vector>

#include "lb/base/net_address.h"
#include "lb/base/unique_fd.h"
#include "lb/io/listen_socket.h"

namespace lb {

class InheritedSockets {
public:
    InheritedSockets() = default;
    // Takes ownership of every descriptor. One that is not a bound TCP or UDP
    // socket is closed and named in `problems`. `origin` says who passed them
    // ("the previous lb", "systemd") in log lines.
    InheritedSockets(const std::vector<int>& fds, std::string origin, std::vector<std::string>* problems);

    // The descriptors bound to `address` as `kind`, in the order they were
    // passed (a SO_REUSEPORT group has several); empty if none.
    std::vector<UniqueFd> take(const SocketAddress& address, ListenSocketSet::Kind kind);
    // Closes what nobody took; their addresses, for the log.
    std::vector<std::string> close_unclaimed();

    bool empty() const { return entries_.empty(); }
    const std::string& origin() const { return origin_; }

private:
    struct Entry {
        SocketAddress address;
        ListenSocketSet::Kind kind;
        UniqueFd fd;
    };
    std::vector<Entry> entries_;
    std::string origin_;
};

}  // namespace lb

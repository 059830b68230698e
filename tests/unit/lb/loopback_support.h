// Real loopback TCP connections and a checkable byte pattern, for tests of
// the io layer's streams and pumps (tcp_stream_test, splice_pump_test).
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <string>
#include <utility>

namespace lb::test {

// A listening socket on 127.0.0.1 (an ephemeral port, in `addr`).
inline int loopback_listener(int backlog, sockaddr_in& addr) {
    int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    addr = {};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(listener, backlog), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
    return listener;
}

// A connected pair: `near` for the code under test, `far` for the test to
// read and write. `near_sndbuf` > 0 sets the near side's send buffer.
inline std::pair<int, int> loopback_pair(int near_sndbuf = 0) {
    sockaddr_in addr;
    int listener = loopback_listener(1, addr);
    int near = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (near_sndbuf > 0) ::setsockopt(near, SOL_SOCKET, SO_SNDBUF, &near_sndbuf, sizeof(near_sndbuf));
    EXPECT_EQ(::connect(near, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    int far = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    ::close(listener);
    return {near, far};
}

// A pattern where every offset has its own byte, so a reordered, dropped or
// repeated piece shows up at the first offset it touches.
inline std::string pattern(size_t offset, size_t size) {
    std::string out(size, '\0');
    for (size_t i = 0; i < size; ++i) out[i] = static_cast<char>(((offset + i) * 2654435761u) >> 13);
    return out;
}

}  // namespace lb::test

// DatagramSender: sends UDP datagrams through the loop's ring straight out
// of the provided receive buffer they arrived in; the buffer goes back to its
// ring when the send completes, so a relayed datagram is never copied.
// Operations are pooled: a busy listener allocates nothing per datagram.
// Sends submitted in one loop turn go to the kernel together.
//
// Threading: one per UdpListener, loop thread only. Must outlive its sends
// (idle() before destruction).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "lb/base/net_address.h"
#include "lb/io/event_loop.h"
#include "lb/io/provided_buffers.h"

namespace lb {

// Told how a send ended: its byte count or -errno (-ECONNREFUSED when an
// earlier datagram drew an ICMP port unreachable on a connected socket).
class DatagramSendObserver {
public:
    virtual void on_datagram_sent(int result) = 0;

protected:
    ~DatagramSendObserver() = default;
};

class DatagramSender {
public:
    DatagramSender(EventLoop& loop, ProvidedBuffers& buffers) : loop_(loop), buffers_(buffers) {}
    DatagramSender(const DatagramSender&) = delete;
    DatagramSender& operator=(const DatagramSender&) = delete;

    // On a connected socket. `observer` (may be null) hears the result.
    void send(int fd, const char* data, size_t size, uint16_t buffer, DatagramSendObserver* observer);
    // On an unconnected socket to `to`; from `from` when it is valid (the
    // address the client sent to, for listeners bound to a wildcard).
    void send_to(int fd, const char* data, size_t size, uint16_t buffer, const SocketAddress& to,
                 const SocketAddress& from);
    size_t in_flight() const { return in_flight_; }
    bool idle() const { return in_flight_ == 0; }

private:
    struct Operation final : IoCompletion {
        DatagramSender* sender = nullptr;
        uint16_t buffer = 0;
        DatagramSendObserver* observer = nullptr;
        msghdr message{};
        iovec iov{};
        sockaddr_storage to{};
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in6_pktinfo))];
        void on_complete(int result, uint32_t) override { sender->finish(*this, result); }
    };

    Operation& take(uint16_t buffer, DatagramSendObserver* observer);
    void finish(Operation& operation, int result);

    EventLoop& loop_;
    ProvidedBuffers& buffers_;
    std::vector<std::unique_ptr<Operation>> all_;
    std::vector<Operation*> free_;
    size_t in_flight_ = 0;
};

}  // namespace lb

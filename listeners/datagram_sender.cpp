#include "listeners/datagram_sender.h"

#include <cstring>

namespace lb {

namespace {

// `info` as the only control message of `message`, whose msg_control has room.
template <class Info>
void put_control(msghdr& message, int level, int type, const Info& info) {
    cmsghdr* cmsg = CMSG_FIRSTHDR(&message);
    cmsg->cmsg_level = level;
    cmsg->cmsg_type = type;
    cmsg->cmsg_len = CMSG_LEN(sizeof(info));
    std::memcpy(CMSG_DATA(cmsg), &info, sizeof(info));
    message.msg_controllen = CMSG_SPACE(sizeof(info));
}

}  // namespace

DatagramSender::Operation& DatagramSender::take(uint16_t buffer, DatagramSendObserver* observer) {
    if (free_.empty()) {
        all_.push_back(std::make_unique<Operation>());
        all_.back()->sender = this;
        free_.push_back(all_.back().get());
    }
    Operation& operation = *free_.back();
    free_.pop_back();
    operation.buffer = buffer;
    operation.observer = observer;
    ++in_flight_;
    return operation;
}

void DatagramSender::send(int fd, const char* data, size_t size, uint16_t buffer, DatagramSendObserver* observer) {
    Operation& operation = take(buffer, observer);
    io_uring_prep_send(loop_.sqe_for(&operation), fd, data, size, MSG_DONTWAIT);
}

void DatagramSender::send_to(int fd, const char* data, size_t size, uint16_t buffer, const SocketAddress& to,
                             const SocketAddress& from) {
    Operation& operation = take(buffer, nullptr);
    operation.iov = {const_cast<char*>(data), size};
    std::memcpy(&operation.to, to.sa(), to.len());
    operation.message = {};
    operation.message.msg_name = &operation.to;
    operation.message.msg_namelen = to.len();
    operation.message.msg_iov = &operation.iov;
    operation.message.msg_iovlen = 1;
    if (from.valid()) {
        // Answer from the address the client wrote to, not whichever the
        // route would pick: IP_PKTINFO / IPV6_PKTINFO with that source.
        std::memset(operation.control, 0, sizeof(operation.control));
        operation.message.msg_control = operation.control;
        operation.message.msg_controllen = sizeof(operation.control);
        if (from.family() == AF_INET) {
            in_pktinfo info{};
            info.ipi_spec_dst = reinterpret_cast<const sockaddr_in*>(from.sa())->sin_addr;
            put_control(operation.message, IPPROTO_IP, IP_PKTINFO, info);
        } else {
            in6_pktinfo info{};
            info.ipi6_addr = reinterpret_cast<const sockaddr_in6*>(from.sa())->sin6_addr;
            put_control(operation.message, IPPROTO_IPV6, IPV6_PKTINFO, info);
        }
    }
    io_uring_prep_sendmsg(loop_.sqe_for(&operation), fd, &operation.message, MSG_DONTWAIT);
}

void DatagramSender::finish(Operation& operation, int result) {
    buffers_.release(operation.buffer);
    DatagramSendObserver* observer = operation.observer;
    operation.observer = nullptr;
    free_.push_back(&operation);
    --in_flight_;
    // A full socket buffer (-EAGAIN) drops the datagram, as UDP does.
    if (observer) observer->on_datagram_sent(result);
}

}  // namespace lb

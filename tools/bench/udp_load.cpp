// udp_load: the UDP side of tools/bench (wrk and iperf3 have none).
//
//   udp_load echo --port P
//       answers every datagram to 127.0.0.1:P with the same bytes, in batches
//       (recvmmsg/sendmmsg), until killed.
//   udp_load client --port P [--flows 64] [--size 64] [--duration 10]
//       request/response load: --flows sockets (one flow each), each with
//       one datagram of --size bytes outstanding; a reply sends the next.
//       A datagram with no reply within 200 ms is counted lost and sent
//       again. Prints one JSON line: requests, seconds, lost, p50_us, p99_us.
//
// Plain sockets and epoll, one thread: a load generator, not part of lb.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr int64_t kLostAfterUs = 200000;

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "udp_load: %s: %s\n", what, std::strerror(errno));
    std::exit(1);
}

sockaddr_in loopback(int port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
}

int run_echo(int port) {
    int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) die("socket");
    int size = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    sockaddr_in address = loopback(port);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) die("bind");

    constexpr int kBatch = 64;
    static std::array<std::array<char, 65536>, kBatch> buffers;
    std::array<sockaddr_in, kBatch> peers{};
    std::array<iovec, kBatch> iovs{};
    std::array<mmsghdr, kBatch> messages{};
    for (;;) {
        for (int i = 0; i < kBatch; ++i) {
            iovs[i] = {buffers[i].data(), buffers[i].size()};
            messages[i].msg_hdr = {};
            messages[i].msg_hdr.msg_name = &peers[i];
            messages[i].msg_hdr.msg_namelen = sizeof(peers[i]);
            messages[i].msg_hdr.msg_iov = &iovs[i];
            messages[i].msg_hdr.msg_iovlen = 1;
        }
        int received = recvmmsg(fd, messages.data(), kBatch, MSG_WAITFORONE, nullptr);
        if (received < 0) {
            if (errno == EINTR) continue;
            die("recvmmsg");
        }
        for (int i = 0; i < received; ++i) iovs[i].iov_len = messages[i].msg_len;
        // A reply that does not fit the socket buffer is dropped, as UDP is.
        if (sendmmsg(fd, messages.data(), static_cast<unsigned>(received), MSG_DONTWAIT) < 0 && errno != EAGAIN)
            std::fprintf(stderr, "udp_load: sendmmsg: %s\n", std::strerror(errno));
    }
}

struct Flow {
    int fd = -1;
    uint64_t sequence = 0;
    Clock::time_point sent;
};

int run_client(int port, int flows, size_t size, double duration) {
    int epoll = epoll_create1(0);
    if (epoll < 0) die("epoll_create1");
    sockaddr_in address = loopback(port);
    std::vector<Flow> all(static_cast<size_t>(flows));
    std::vector<char> payload(size, 'x');
    std::vector<char> reply(65536);

    auto send = [&](Flow& flow) {
        ++flow.sequence;
        std::memcpy(payload.data(), &flow.sequence, sizeof(flow.sequence));
        flow.sent = Clock::now();
        if (::send(flow.fd, payload.data(), payload.size(), 0) < 0 && errno != ECONNREFUSED && errno != EAGAIN)
            die("send");
    };
    for (size_t i = 0; i < all.size(); ++i) {
        Flow& flow = all[i];
        flow.fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        if (flow.fd < 0) die("socket");
        if (::connect(flow.fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) die("connect");
        epoll_event event{};
        event.events = EPOLLIN;
        event.data.u64 = i;
        if (epoll_ctl(epoll, EPOLL_CTL_ADD, flow.fd, &event) != 0) die("epoll_ctl");
    }

    // Latency histogram in microseconds, 1 µs buckets up to the 200 ms after
    // which a datagram counts as lost.
    std::vector<uint64_t> histogram(kLostAfterUs + 1);
    uint64_t requests = 0, lost = 0;
    const auto start = Clock::now();
    const auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(duration));
    for (Flow& flow : all) send(flow);
    std::array<epoll_event, 256> events;
    auto last_scan = start;
    while (true) {
        int ready = epoll_wait(epoll, events.data(), static_cast<int>(events.size()), 20);
        if (ready < 0 && errno != EINTR) die("epoll_wait");
        auto now = Clock::now();
        if (now >= end) break;
        for (int i = 0; i < std::max(ready, 0); ++i) {
            Flow& flow = all[events[i].data.u64];
            for (;;) {
                ssize_t got = ::recv(flow.fd, reply.data(), reply.size(), 0);
                if (got < 0) break;  // EAGAIN, or ECONNREFUSED: the timeout resends
                uint64_t sequence = 0;
                if (static_cast<size_t>(got) >= sizeof(sequence)) std::memcpy(&sequence, reply.data(), sizeof(sequence));
                if (sequence != flow.sequence) continue;  // a late answer to a datagram counted lost
                auto micros = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - flow.sent).count();
                ++histogram[static_cast<size_t>(std::clamp<int64_t>(micros, 0, kLostAfterUs))];
                ++requests;
                send(flow);
            }
        }
        if (now - last_scan > std::chrono::milliseconds(50)) {
            last_scan = now;
            for (Flow& flow : all) {
                if (now - flow.sent < std::chrono::microseconds(kLostAfterUs)) continue;
                ++lost;
                send(flow);
            }
        }
    }
    double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    auto percentile = [&](double fraction) -> uint64_t {
        if (requests == 0) return 0;
        uint64_t wanted = static_cast<uint64_t>(fraction * static_cast<double>(requests)), seen = 0;
        for (size_t us = 0; us < histogram.size(); ++us) {
            seen += histogram[us];
            if (seen > wanted) return us;
        }
        return histogram.size() - 1;
    };
    std::printf("{\"requests\": %llu, \"seconds\": %.3f, \"lost\": %llu, \"p50_us\": %llu, \"p99_us\": %llu}\n",
                static_cast<unsigned long long>(requests), seconds, static_cast<unsigned long long>(lost),
                static_cast<unsigned long long>(percentile(0.5)), static_cast<unsigned long long>(percentile(0.99)));
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: udp_load echo --port P | client --port P [--flows N] [--size B] [--duration S]\n");
        return 2;
    }
    std::string mode = argv[1];
    int port = 0, flows = 64;
    size_t size = 64;
    double duration = 10;
    for (int i = 2; i + 1 < argc; i += 2) {
        std::string option = argv[i];
        const char* value = argv[i + 1];
        if (option == "--port") port = std::atoi(value);
        else if (option == "--flows") flows = std::atoi(value);
        else if (option == "--size") size = static_cast<size_t>(std::atol(value));
        else if (option == "--duration") duration = std::atof(value);
        else {
            std::fprintf(stderr, "udp_load: unknown option %s\n", option.c_str());
            return 2;
        }
    }
    // Every datagram carries its 8-byte sequence number.
    if (port <= 0 || port > 65535 || flows < 1 || size < 8 || size > 65507 || duration <= 0) {
        std::fprintf(stderr, "udp_load: bad arguments (--size 8..65507)\n");
        return 2;
    }
    if (mode == "echo") return run_echo(port);
    if (mode == "client") return run_client(port, flows, size, duration);
    std::fprintf(stderr, "udp_load: unknown mode %s\n", mode.c_str());
    return 2;
}

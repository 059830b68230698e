// DnsResolver: c-ares driven by an lb EventLoop. c-ares owns the DNS
// sockets and the protocol; this class watches the sockets c-ares asks it to
// (io_uring poll, one-shot, re-armed) and runs c-ares's timeouts on the
// loop's timer wheel, so a lookup never blocks the thread that asked.
// Answers are delivered from a deferred task, never from inside the call
// that asked.
//
// Threading: the loop's thread only (the main thread: workers never resolve).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "conf/config.h"
#include "lb/base/net_address.h"
#include "lb/base/result.h"
#include "lb/io/event_loop.h"

struct ares_channeldata;
struct ares_addrinfo;

namespace lb {

// How a lookup ended, as discovery treats it.
enum class DnsStatus {
    ok,        // records (possibly after following CNAMEs)
    no_name,   // NXDOMAIN, or the name has no records of the type asked
    failed,    // timeout, SERVFAIL, refused, unreachable: says nothing about the name
};
const char* to_string(DnsStatus status);

struct SrvRecord {
    std::string host;
    uint16_t port = 0;
    uint16_t priority = 0;
    uint16_t weight = 0;
    bool operator==(const SrvRecord&) const = default;
};

struct DnsAnswer {
    DnsStatus status = DnsStatus::failed;
    std::string error;                       // c-ares's words, when not ok
    uint32_t ttl = 0;                        // seconds: the smallest of the records'
    std::vector<SocketAddress> addresses;    // host lookups, port 0, sorted
    std::vector<SrvRecord> srv;              // SRV lookups, sorted
};

class DnsResolver {
public:
    using Callback = std::function<void(DnsAnswer)>;

    static Result<std::unique_ptr<DnsResolver>> create(EventLoop& loop, const conf::Resolver& config);
    ~DnsResolver();
    DnsResolver(const DnsResolver&) = delete;
    DnsResolver& operator=(const DnsResolver&) = delete;

    // A and AAAA records of `name`.
    void resolve_host(const std::string& name, Callback done);
    // SRV records of `name`.
    void resolve_srv(const std::string& name, Callback done);

private:
    // One socket c-ares asked to watch. Freed once no poll is in flight.
    struct Watch {
        Watch(DnsResolver* owner, int socket) : resolver(owner), fd(socket) {}
        Watch(const Watch&) = delete;
        Watch& operator=(const Watch&) = delete;
        DnsResolver* resolver;
        int fd;
        bool want_read = false;
        bool want_write = false;
        bool polling = false;   // a poll is submitted
        bool dead = false;      // c-ares is done with the socket
        void on_poll(int result, uint32_t flags);
        CompletionOf<Watch, &Watch::on_poll> completion{this};
    };
    struct Pending;

    explicit DnsResolver(EventLoop& loop);
    static void on_socket_state(void* data, int fd, int readable, int writable);
    static void on_addrinfo(void* arg, int status, int timeouts, ::ares_addrinfo* result);
    static void on_query(void* arg, int status, int timeouts, unsigned char* answer, int length);
    void arm(Watch& watch);
    void watch_done(Watch* watch);
    void reschedule();
    void deliver(Callback done, DnsAnswer answer);

    EventLoop& loop_;
    ares_channeldata* channel_ = nullptr;
    std::map<int, std::unique_ptr<Watch>> watches_;        // by fd: what c-ares watches now
    std::vector<std::unique_ptr<Watch>> dying_;            // waiting for their cancelled poll
    Timer timer_;
    bool destroying_ = false;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// The smallest TTL of the answer records of `type` in a DNS response
// (RFC 1035 section 4.1), or nullopt if it holds none or is malformed.
std::optional<uint32_t> min_answer_ttl(const unsigned char* message, size_t length, uint16_t type);

}  // namespace lb

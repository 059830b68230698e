#include "lb/discovery/dns_resolver.h"

#include <ares.h>
#include <arpa/nameser.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <tuple>

#include "lb/base/log.h"

namespace lb {

const char* to_string(DnsStatus status) {
    switch (status) {
        case DnsStatus::ok: return "ok";
        case DnsStatus::no_name: return "no such name";
        case DnsStatus::failed: return "failed";
    }
    return "?";
}

struct DnsResolver::Pending {
    DnsResolver* resolver;
    Callback done;
};

namespace {

DnsStatus classify(int status) {
    switch (status) {
        case ARES_SUCCESS: return DnsStatus::ok;
        case ARES_ENOTFOUND:
        case ARES_ENODATA: return DnsStatus::no_name;
        default: return DnsStatus::failed;
    }
}

bool is_address_less(const SocketAddress& a, const SocketAddress& b) { return a.ip_bytes() < b.ip_bytes(); }

}  // namespace

Result<std::unique_ptr<DnsResolver>> DnsResolver::create(EventLoop& loop, const conf::Resolver& config) {
    static std::once_flag library;
    static int library_status = ARES_SUCCESS;
    std::call_once(library, [] { library_status = ares_library_init(ARES_LIB_INIT_ALL); });
    if (library_status != ARES_SUCCESS) return Error{std::string("c-ares: ") + ares_strerror(library_status)};

    std::unique_ptr<DnsResolver> resolver(new DnsResolver(loop));
    ares_options options{};
    options.sock_state_cb = &DnsResolver::on_socket_state;
    options.sock_state_cb_data = resolver.get();
    options.timeout = static_cast<int>(config.timeout.count());
    options.tries = config.attempts;
    int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
    // Named servers are asked, and only they, as nginx's and HAProxy's
    // resolvers do; without, the system's files and servers.
    char dns_only[] = "b";
    if (!config.nameservers.empty()) {
        options.lookups = dns_only;
        mask |= ARES_OPT_LOOKUPS;
    }
    int status = ares_init_options(&resolver->channel_, &options, mask);
    if (status != ARES_SUCCESS) return Error{std::string("resolver: ") + ares_strerror(status)};
    if (!config.nameservers.empty()) {
        std::string servers;
        for (const auto& server : config.nameservers) servers += (servers.empty() ? "" : ",") + server.to_string();
        status = ares_set_servers_ports_csv(resolver->channel_, servers.c_str());
        if (status != ARES_SUCCESS)
            return Error{"resolver: nameservers " + servers + ": " + ares_strerror(status)};
    }
    return resolver;
}

DnsResolver::DnsResolver(EventLoop& loop) : loop_(loop), timer_([this] {
    ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    reschedule();
}) {}

// Lives as long as its loop runs: polls still in flight point at the
// watches freed here, so it is destroyed only once the loop has stopped.
DnsResolver::~DnsResolver() {
    destroying_ = true;
    *alive_ = false;
    loop_.timers().cancel(timer_);
    if (channel_) ares_destroy(channel_);  // pending lookups end with ARES_EDESTRUCTION, dropped
}

// ---------------------------------------------------------------- lookups

void DnsResolver::resolve_host(const std::string& name, Callback done) {
    ares_addrinfo_hints hints{};
    hints.ai_family = AF_UNSPEC;
    // No connect() probes to order the answers: lb sorts them itself.
    hints.ai_flags = ARES_AI_NOSORT;
    ares_getaddrinfo(channel_, name.c_str(), nullptr, &hints, &DnsResolver::on_addrinfo,
                     new Pending{this, std::move(done)});
    reschedule();
}

void DnsResolver::resolve_srv(const std::string& name, Callback done) {
    ares_query(channel_, name.c_str(), ns_c_in, ns_t_srv, &DnsResolver::on_query, new Pending{this, std::move(done)});
    reschedule();
}

void DnsResolver::on_addrinfo(void* arg, int status, int, ::ares_addrinfo* result) {
    std::unique_ptr<Pending> pending(static_cast<Pending*>(arg));
    std::unique_ptr<::ares_addrinfo, void (*)(::ares_addrinfo*)> owned(result, ares_freeaddrinfo);
    if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED || pending->resolver->destroying_) return;
    DnsAnswer answer;
    answer.status = classify(status);
    if (answer.status != DnsStatus::ok) {
        answer.error = ares_strerror(status);
    } else {
        bool first = true;
        for (::ares_addrinfo_node* node = result ? result->nodes : nullptr; node; node = node->ai_next) {
            SocketAddress address = SocketAddress::from_sockaddr(node->ai_addr, node->ai_addrlen);
            if (!address.valid()) continue;
            address.set_port(0);
            if (std::find(answer.addresses.begin(), answer.addresses.end(), address) == answer.addresses.end())
                answer.addresses.push_back(address);
            uint32_t ttl = static_cast<uint32_t>(std::max(node->ai_ttl, 0));
            answer.ttl = first ? ttl : std::min(answer.ttl, ttl);
            first = false;
        }
        std::sort(answer.addresses.begin(), answer.addresses.end(), is_address_less);
        if (answer.addresses.empty()) {
            answer.status = DnsStatus::no_name;
            answer.error = "no addresses";
        }
    }
    pending->resolver->deliver(std::move(pending->done), std::move(answer));
}

void DnsResolver::on_query(void* arg, int status, int, unsigned char* message, int length) {
    std::unique_ptr<Pending> pending(static_cast<Pending*>(arg));
    if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED || pending->resolver->destroying_) return;
    DnsAnswer answer;
    ares_srv_reply* replies = nullptr;
    if (status == ARES_SUCCESS) status = ares_parse_srv_reply(message, length, &replies);
    answer.status = classify(status);
    if (answer.status != DnsStatus::ok) {
        answer.error = ares_strerror(status);
    } else {
        for (ares_srv_reply* reply = replies; reply; reply = reply->next) {
            std::string host = reply->host;
            if (host.empty() || host == ".") continue;  // RFC 2782: "." = service not available here
            answer.srv.push_back({std::move(host), reply->port, reply->priority, reply->weight});
        }
        std::sort(answer.srv.begin(), answer.srv.end(), [](const SrvRecord& a, const SrvRecord& b) {
            return std::tie(a.priority, a.host, a.port, a.weight) < std::tie(b.priority, b.host, b.port, b.weight);
        });
        answer.ttl = min_answer_ttl(message, static_cast<size_t>(length), ns_t_srv).value_or(0);
        if (answer.srv.empty()) {
            answer.status = DnsStatus::no_name;
            answer.error = "no SRV records";
        }
    }
    if (replies) ares_free_data(replies);
    pending->resolver->deliver(std::move(pending->done), std::move(answer));
}

// c-ares may answer from inside the call that asked (a hosts file, a bad
// name): the caller hears it after its own call returned.
void DnsResolver::deliver(Callback done, DnsAnswer answer) {
    loop_.defer([alive = alive_, done = std::move(done), answer = std::move(answer)]() mutable {
        if (*alive) done(std::move(answer));
    });
}

// ---------------------------------------------------------------- sockets and time

void DnsResolver::on_socket_state(void* data, int fd, int readable, int writable) {
    auto* resolver = static_cast<DnsResolver*>(data);
    auto it = resolver->watches_.find(fd);
    if (!readable && !writable) {
        if (it == resolver->watches_.end()) return;
        std::unique_ptr<Watch> watch = std::move(it->second);
        resolver->watches_.erase(it);
        watch->dead = true;
        if (watch->polling) {
            resolver->loop_.cancel(watch->completion);
            resolver->dying_.push_back(std::move(watch));  // freed when its poll completes
        } else if (!resolver->destroying_) {
            // Possibly called from inside this watch's own on_poll: free it later.
            resolver->dying_.push_back(std::move(watch));
            resolver->loop_.defer([alive = resolver->alive_, resolver] {
                if (!*alive) return;
                std::erase_if(resolver->dying_, [](const auto& w) { return !w->polling; });
            });
        }
        return;
    }
    if (it == resolver->watches_.end()) {
        it = resolver->watches_.emplace(fd, std::make_unique<Watch>(resolver, fd)).first;
    }
    Watch& watch = *it->second;
    bool changed = watch.want_read != static_cast<bool>(readable) || watch.want_write != static_cast<bool>(writable);
    watch.want_read = readable;
    watch.want_write = writable;
    if (!watch.polling) resolver->arm(watch);
    else if (changed) resolver->loop_.cancel(watch.completion);  // re-armed with the new interest
}

// One poll per watch at a time: c-ares may change its interest from inside
// ares_process_fd, called from the watch's own completion, which re-arms
// after it (a second poll would outlive the watch's cancel).
void DnsResolver::arm(Watch& watch) {
    unsigned mask = (watch.want_read ? POLLIN : 0) | (watch.want_write ? POLLOUT : 0);
    if (!mask || watch.dead || watch.polling) return;
    io_uring_prep_poll_add(loop_.sqe_for(&watch.completion), watch.fd, mask);
    watch.polling = true;
}

void DnsResolver::Watch::on_poll(int result, uint32_t) {
    polling = false;
    DnsResolver& self = *resolver;
    if (dead) {
        self.watch_done(this);
        return;
    }
    if (result == -ECANCELED) {  // interest changed
        self.arm(*this);
        return;
    }
    bool readable = result < 0 || (result & (POLLIN | POLLERR | POLLHUP));
    bool writable = result < 0 || (result & (POLLOUT | POLLERR));
    int socket = fd;
    ares_process_fd(self.channel_, readable ? socket : ARES_SOCKET_BAD, writable ? socket : ARES_SOCKET_BAD);
    // c-ares may have closed the socket (and this watch is then dead).
    if (!dead) self.arm(*this);
    self.reschedule();
}

void DnsResolver::watch_done(Watch* watch) {
    std::erase_if(dying_, [watch](const auto& w) { return w.get() == watch; });
}

void DnsResolver::reschedule() {
    if (destroying_) return;
    timeval tv{};
    if (!ares_timeout(channel_, nullptr, &tv)) {
        loop_.timers().cancel(timer_);
        return;
    }
    int64_t ms = static_cast<int64_t>(tv.tv_sec) * 1000 + tv.tv_usec / 1000 + 1;
    loop_.timers().schedule(timer_, ms);
}

// ---------------------------------------------------------------- TTLs

namespace {

// Past the (possibly compressed) name at `at`, or 0 if it runs off the end.
size_t skip_name(const unsigned char* message, size_t length, size_t at) {
    while (at < length) {
        unsigned char label = message[at];
        if (label == 0) return at + 1;
        if ((label & 0xc0) == 0xc0) return at + 2 <= length ? at + 2 : 0;  // a pointer ends the name
        if (label & 0xc0) return 0;
        at += 1 + label;
    }
    return 0;
}

uint16_t read16(const unsigned char* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

}  // namespace

std::optional<uint32_t> min_answer_ttl(const unsigned char* message, size_t length, uint16_t type) {
    if (length < 12) return std::nullopt;
    size_t questions = read16(message + 4);
    size_t answers = read16(message + 6);
    size_t at = 12;
    for (size_t i = 0; i < questions; ++i) {
        at = skip_name(message, length, at);
        if (at == 0 || at + 4 > length) return std::nullopt;
        at += 4;  // type, class
    }
    std::optional<uint32_t> ttl;
    for (size_t i = 0; i < answers; ++i) {
        at = skip_name(message, length, at);
        if (at == 0 || at + 10 > length) return std::nullopt;
        uint16_t record_type = read16(message + at);
        uint32_t record_ttl = static_cast<uint32_t>(message[at + 4]) << 24 | static_cast<uint32_t>(message[at + 5]) << 16 |
                              static_cast<uint32_t>(message[at + 6]) << 8 | message[at + 7];
        size_t data_length = read16(message + at + 8);
        at += 10 + data_length;
        if (at > length) return std::nullopt;
        // RFC 2181 section 8: a TTL with the top bit set counts as 0.
        if (record_ttl & 0x80000000u) record_ttl = 0;
        if (record_type == type) ttl = ttl ? std::min(*ttl, record_ttl) : record_ttl;
    }
    return ttl;
}

}  // namespace lb

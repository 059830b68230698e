#include "lb/worker/worker.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "lb/base/log.h"
#include "lb/io/accept_loop.h"
#include "lb/io/socket_options.h"
#include "lb/io/tcp_stream.h"
#include "lb/worker/session.h"

namespace lb {

// One socket of a listener's set that this worker serves, with its accept
// loop (one per worker, unless the set was inherited with more sockets than
// there are workers).
struct Worker::ListenerSlot {
    std::shared_ptr<ListenSocketSet> sockets;
    int socket_index;
    const ListenerRuntime* listener;  // in the current snapshot
    bool removed = false;             // stop() was called
    bool stopped = false;             // and its accept has ended
    AcceptLoop accept;

    ListenerSlot(Worker& worker, const ListenerRuntime& runtime, int index)
        : sockets(runtime.sockets),
          socket_index(index),
          listener(&runtime),
          accept(*worker.loop_, sockets->fd(index), "accept on " + sockets->address().to_string(),
                 [this, &worker](UniqueFd fd) {
                     // Between snapshots, on its way out: fd is dropped (closed).
                     if (listener) worker.handle_connection(*this, std::move(fd));
                 }) {}
};

Worker::Worker(int index, std::atomic<int64_t>* connection_budget, const Protocols& protocols)
    : index_(index), connection_budget_(connection_budget), protocols_(protocols) {}

Worker::~Worker() { join(); }

void Worker::start(std::shared_ptr<const Runtime> runtime, bool accepting) {
    accepting_ = accepting;
    thread_ = std::thread([this, runtime = std::move(runtime)]() mutable { run(std::move(runtime)); });
}

void Worker::start_accepting() {
    loop_->post([this] {
        if (accepting_) return;
        accepting_ = true;
        if (!draining_) adopt_listeners(snapshot_->runtime);
    });
}

void Worker::publish(std::shared_ptr<const Runtime> runtime) {
    loop_->post([this, runtime = std::move(runtime)]() mutable { adopt(std::move(runtime)); });
}

void Worker::stop(bool graceful, bool keep_idle) {
    loop_->post([this, graceful, keep_idle] { begin_stop(graceful, keep_idle); });
}

void Worker::join() {
    if (thread_.joinable()) thread_.join();
}

void Worker::run(std::shared_ptr<const Runtime> runtime) {
    auto created = EventLoop::create(EventLoop::Options{});
    if (!created) {
        LB_LOG_ERROR("worker %d: %s", index_, created.error().c_str());
        failed_ = true;
        ready_ = true;
        return;
    }
    loop_ = std::move(*created);
    pool_ = std::make_unique<UpstreamPool>(*loop_);
    upstreams_ = std::make_unique<WorkerUpstreams>(*loop_, *pool_);
    drains_ = std::make_unique<DrainWatch>(
        *loop_, DrainWatch::Callbacks{[this](const TargetState& t) { drain_started(t); },
                                      [this](const TargetState& t) { drain_deadline_reached(t); }});
    adopt(std::move(runtime));
    loop_->set_idle_hook([this] {
        access_log_.flush();
        if (!stopped_udp_listeners_.empty())
            std::erase_if(stopped_udp_listeners_, [](const auto& listener) { return listener->finished(); });
    });
    ready_ = true;
    loop_->run();

    // Everything is closed by now (exit condition); free what is left.
    access_log_.flush();
    slots_.clear();
    udp_listeners_.clear();
    stopped_udp_listeners_.clear();
    snapshot_.reset();
    drains_.reset();
    upstreams_.reset();
    pool_.reset();
    finished_ = true;
    if (exit_notifier_) exit_notifier_();
}

void Worker::adopt(std::shared_ptr<const Runtime> runtime) {
    auto snapshot = std::make_shared<WorkerSnapshot>();
    snapshot->runtime = runtime;
    // Lines from now on take this generation's format (the snapshot keeps it alive).
    access_log_.use(std::shared_ptr<const conf::AccessLog>(runtime, &runtime->config.global.access_log));
    for (const auto& group : runtime->groups) {
        snapshot->balancers.push_back(group->balancer->create());
        snapshot->zone_rotations.push_back(group->zones ? ZoneRotation(*group->zones) : ZoneRotation());
    }
    snapshot->fail_open_logged_ms.assign(runtime->groups.size(), INT64_MIN);
    snapshot_ = std::move(snapshot);
    for (Session* session = sessions_; session;) {
        Session* next = session->next_;
        session->snapshot_changed();
        session = next;
    }
    drains_->observe(*runtime);
    if (draining_ || !accepting_) return;
    adopt_listeners(runtime);
}

void Worker::adopt_listeners(const std::shared_ptr<const Runtime>& runtime) {
    adopt_udp_listeners(runtime);
    for (auto& slot : slots_) slot->listener = nullptr;
    for (const auto& listener : runtime->listeners) {
        const ListenSocketSet& sockets = *listener->sockets;
        if (sockets.kind() != ListenSocketSet::Kind::stream) continue;
        for (int index = 0; index < sockets.count(); ++index) {
            if (!sockets.served_by(index, index_)) continue;
            // The options accepted sockets inherit: set when the socket was
            // opened, again here as a reload may have changed tcp_keepalive.
            set_client_socket_options(sockets.fd(index), listener->config.tcp_keepalive);
            ListenerSlot* existing = nullptr;
            for (auto& slot : slots_)
                if (slot->sockets == listener->sockets && slot->socket_index == index && !slot->removed)
                    existing = slot.get();
            if (existing) {
                existing->listener = listener.get();
                continue;
            }
            slots_.push_back(std::make_unique<ListenerSlot>(*this, *listener, index));
            slots_.back()->accept.start();
        }
    }
    // Listeners gone from the config: stop accepting; the slot goes when its
    // accept operation has ended.
    for (auto& slot : slots_)
        if (!slot->listener) stop_accepting(*slot);
}

void Worker::stop_accepting(ListenerSlot& slot) {
    if (slot.removed) return;
    slot.removed = true;
    slot.accept.stop([this, &slot] {
        slot.stopped = true;
        loop_->defer([this] { std::erase_if(slots_, [](const auto& s) { return s->stopped; }); });
    });
}

// udp listeners: the same socket set keeps its UdpListener (and flows)
// across snapshots; new ones start, removed ones stop.
void Worker::adopt_udp_listeners(const std::shared_ptr<const Runtime>& runtime) {
    std::vector<std::unique_ptr<DatagramListener>> kept;
    for (const auto& listener : runtime->listeners) {
        const ListenSocketSet& sockets = *listener->sockets;
        if (sockets.kind() != ListenSocketSet::Kind::datagram) continue;
        for (int index = 0; index < sockets.count(); ++index) {
            if (!sockets.served_by(index, index_)) continue;
            auto existing = std::find_if(udp_listeners_.begin(), udp_listeners_.end(), [&](const auto& udp) {
                return udp && udp->sockets() == listener->sockets && udp->socket_index() == index;
            });
            if (existing != udp_listeners_.end()) {
                (*existing)->update(runtime, *listener);
                kept.push_back(std::move(*existing));
                continue;
            }
            ProvidedBuffers* buffers = loop_->datagram_buffers();
            if (!buffers) continue;  // logged; the listener stays silent on this worker
            kept.push_back(protocols_.datagram(*this, runtime, *listener, index, *buffers));
            kept.back()->start();
        }
    }
    for (auto& gone : udp_listeners_)
        if (gone) retire_udp_listener(std::move(gone));
    udp_listeners_ = std::move(kept);
}

void Worker::retire_udp_listener(std::unique_ptr<DatagramListener> listener) {
    listener->stop();
    stopped_udp_listeners_.push_back(std::move(listener));
}

void Worker::handle_connection(ListenerSlot& slot, UniqueFd fd) {
    counters_.connections_accepted.fetch_add(1, std::memory_order_relaxed);
    const ListenerRuntime& listener = *slot.listener;
    const conf::Listener& config = listener.config;

    if (connection_budget_->fetch_sub(1, std::memory_order_relaxed) <= 0) {
        connection_budget_->fetch_add(1, std::memory_order_relaxed);
        counters_.connections_refused_limit.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    int64_t open = listener.state->connections.fetch_add(1, std::memory_order_relaxed) + 1;
    ConnectionTicket ticket(connection_budget_, listener.state);  // gives both back on every path
    if (config.max_connections > 0 && open > config.max_connections) {
        listener.state->refused_max_connections.fetch_add(1, std::memory_order_relaxed);
        return;
    }

    SocketAddress peer = SocketAddress::peer_of(fd.get());
    if (!peer.valid()) return;
    if (!config.allow.empty() && !in_any(config.allow, peer)) {
        counters_.connections_refused_allow.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    protocols_.accepted(*this, listener, std::make_unique<TcpStream>(*loop_, std::move(fd), peer), std::move(ticket));
}

// Per-client connection limits apply once the client is known (after any
// PROXY header). A trusted proxy that names its clients in X-Forwarded-For
// is not a client itself: its requests count per client, by request_rate.
const char* Worker::check_client_limits(const ListenerRuntime& listener, const SocketAddress& client,
                                        ConnectionTicket& ticket) {
    const conf::Listener& config = listener.config;
    if (!config.accept_proxy_protocol && in_any(config.trusted_proxies, client)) return nullptr;
    const conf::ClientLimits& limits = config.client_limits;
    ClientLimiter& limiter = *listener.client_limiter;
    ListenerState& state = *listener.state;
    const int64_t now = monotonic_us();
    auto verdict = limiter.admit(ClientLimiter::Rate::connection, client, limits.connection_rate.per_second,
                                 limits.connection_rate.burst, now);
    if (verdict == ClientLimiter::Verdict::table_full) state.client_limiter_full.fetch_add(1, std::memory_order_relaxed);
    if (verdict == ClientLimiter::Verdict::refused) {
        state.client_limited_connection_rate.fetch_add(1, std::memory_order_relaxed);
        log_client_limited(listener, client, "connection_rate");
        return "client over its connection rate";
    }
    if (limits.connections <= 0) return nullptr;
    ClientLimiter::Slot* slot = nullptr;
    verdict = limiter.acquire_connection(client, limits.connections, now, &slot);
    if (verdict == ClientLimiter::Verdict::table_full) state.client_limiter_full.fetch_add(1, std::memory_order_relaxed);
    if (verdict == ClientLimiter::Verdict::refused) {
        state.client_limited_connections.fetch_add(1, std::memory_order_relaxed);
        log_client_limited(listener, client, "connections");
        return "client over its open connections";
    }
    if (slot) ticket.hold_client(listener.client_limiter, slot);
    return nullptr;
}

void Worker::log_client_limited(const ListenerRuntime& listener, const SocketAddress& client, const char* limit) {
    ++client_limited_unlogged_;
    if (loop_->now_ms() - client_limited_logged_ms_ < 5000) return;
    LB_LOG_WARN("listener %s: client %s over its client_limits.%s (%llu refusals on this worker since the last "
                "message)", listener.config.name.c_str(), client.ip_string().c_str(), limit,
                static_cast<unsigned long long>(client_limited_unlogged_));
    client_limited_logged_ms_ = loop_->now_ms();
    client_limited_unlogged_ = 0;
}

const ListenerRuntime* Worker::current_listener(const ListenerRuntime& listener) const {
    for (const auto& candidate : snapshot_->runtime->listeners)
        if (candidate->config.name == listener.config.name && candidate->sockets == listener.sockets)
            return candidate.get();
    return nullptr;
}

void Worker::add_session(Session* session) {
    session->next_ = sessions_;
    if (sessions_) sessions_->prev_ = session;
    sessions_ = session;
    ++session_count_;
    counters_.connections_open.fetch_add(1, std::memory_order_relaxed);
}

void Worker::remove_session(Session* session) {
    if (session->prev_) session->prev_->next_ = session->next_;
    else if (sessions_ == session) sessions_ = session->next_;
    if (session->next_) session->next_->prev_ = session->prev_;
    session->prev_ = session->next_ = nullptr;
    --session_count_;
    counters_.connections_open.fetch_sub(1, std::memory_order_relaxed);
}

void Worker::drain_started(const TargetState& target) {
    pool_->close_target(&target);
    for (Session* session = sessions_; session;) {
        Session* next = session->next_;  // the call may close the session
        session->target_draining(target);
        session = next;
    }
}

void Worker::drain_deadline_reached(const TargetState& target) {
    for (auto& listener : udp_listeners_) listener->target_drained(target);
    for (Session* session = sessions_; session;) {
        Session* next = session->next_;
        session->target_drained(target);
        session = next;
    }
}

void Worker::begin_stop(bool graceful, bool keep_idle) {
    bool first = !draining_;
    draining_ = true;
    keep_idle_ = graceful && (first ? keep_idle : keep_idle_);
    if (first) {
        for (auto& slot : slots_) stop_accepting(*slot);
        // A datagram has no request to finish: flows end with the listener.
        for (auto& listener : udp_listeners_) retire_udp_listener(std::move(listener));
        udp_listeners_.clear();
    }
    for (Session* session = sessions_; session;) {
        Session* next = session->next_;
        if (graceful) session->drain();
        else session->abort();
        session = next;
    }
    if (!graceful) {
        pool_->close_all();
        loop_->abort_lingering();
    }
    loop_->stop();
    loop_->set_exit_condition([this] {
        if (session_count_ > 0) return false;
        if (pool_->idle_count() > 0) pool_->close_all();
        for (auto& slot : slots_)
            if (!slot->stopped) return false;
        for (auto& listener : stopped_udp_listeners_)
            if (!listener->finished()) return false;
        return loop_->live_streams() == 0;
    });
}

}  // namespace lb

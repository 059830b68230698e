// Worker: one thread, one EventLoop, its own SO_REUSEPORT listening socket
// per listener, its sessions, upstream pool and balancers. Shares nothing
// with other workers on the request path (docs/architecture.md, "Threads").
//
// Threading: the main thread calls start/publish/stop/join; everything else
// runs on the worker thread. publish() hands over a new snapshot through the
// loop's mailbox (eventfd wake-up).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "lb/base/unique_fd.h"
#include "lb/io/event_loop.h"
#include "lb/runtime/access_log.h"
#include "lb/runtime/drain_watch.h"
#include "lb/runtime/runtime.h"
#include "lb/targets/balancer.h"
#include "lb/targets/zone_split.h"
#include "lb/worker/exchange_host.h"
#include "lb/worker/upstream_connector.h"
#include "lb/worker/upstream_pool.h"
#include "lb/worker/worker_counters.h"

namespace lb {

class Session;
class TcpStream;
class Worker;

// One unit of global.max_connections and of the listener's open connection
// count, held by a client connection and moved with it from session to
// session (PROXY header -> HTTP -> WebSocket tunnel). It also remembers
// whether a trusted proxy's PROXY header named the client, which the
// stream's addresses no longer show.
class ConnectionTicket {
public:
    ConnectionTicket() = default;
    ConnectionTicket(std::atomic<int64_t>* budget, std::shared_ptr<ListenerState> listener)
        : budget_(budget), listener_(std::move(listener)) {}
    ConnectionTicket(ConnectionTicket&& other) noexcept
        : budget_(std::exchange(other.budget_, nullptr)),
          listener_(std::move(other.listener_)),
          client_limiter_(std::move(other.client_limiter_)),
          client_slot_(std::exchange(other.client_slot_, nullptr)),
          via_proxy_header_(other.via_proxy_header_) {}
    ConnectionTicket& operator=(ConnectionTicket&& other) noexcept {
        if (this != &other) {
            release();
            budget_ = std::exchange(other.budget_, nullptr);
            listener_ = std::move(other.listener_);
            client_limiter_ = std::move(other.client_limiter_);
            client_slot_ = std::exchange(other.client_slot_, nullptr);
            via_proxy_header_ = other.via_proxy_header_;
        }
        return *this;
    }
    ~ConnectionTicket() { release(); }

    // The connection also counts towards its client's open connections.
    void hold_client(std::shared_ptr<ClientLimiter> limiter, ClientLimiter::Slot* slot) {
        client_limiter_ = std::move(limiter);
        client_slot_ = slot;
    }

    // A trusted proxy's PROXY header named the client (not LOCAL).
    void mark_via_proxy_header() { via_proxy_header_ = true; }
    bool via_proxy_header() const { return via_proxy_header_; }

private:
    void release() {
        if (budget_) budget_->fetch_add(1, std::memory_order_relaxed);
        budget_ = nullptr;
        if (listener_) listener_->connections.fetch_sub(1, std::memory_order_relaxed);
        listener_.reset();
        ClientLimiter::release_connection(std::exchange(client_slot_, nullptr));
        client_limiter_.reset();
    }
    std::atomic<int64_t>* budget_ = nullptr;
    std::shared_ptr<ListenerState> listener_;
    std::shared_ptr<ClientLimiter> client_limiter_;  // keeps client_slot_ alive
    ClientLimiter::Slot* client_slot_ = nullptr;
    bool via_proxy_header_ = false;
};

// A snapshot as one worker sees it: the shared Runtime plus this worker's
// balancers for it. Requests hold it so they finish on the snapshot they
// started with.
struct WorkerSnapshot {
    std::shared_ptr<const Runtime> runtime;
    std::vector<std::unique_ptr<Balancer>> balancers;  // by TargetGroupRuntime::index
    // When this worker last logged that a group failed open (steady ms), by
    // group index: one warning per group per kFailOpenLogMs, not per request.
    std::vector<int64_t> fail_open_logged_ms;
    std::vector<ZoneRotation> zone_rotations;          // by TargetGroupRuntime::index
};

// One udp listener's share on a worker: it receives on one socket of the
// listener's set (ListenSocketSet::served_by) and keeps its flows. Made by
// Protocols::datagram.
class DatagramListener {
public:
    virtual ~DatagramListener() = default;
    virtual void start() = 0;
    // A new snapshot that keeps the listener (same sockets).
    virtual void update(std::shared_ptr<const Runtime> runtime, const ListenerRuntime& listener) = 0;
    // Stops receiving; finished() once nothing of it is left in the ring.
    virtual void stop() = 0;
    virtual bool finished() const = 0;
    virtual const std::shared_ptr<ListenSocketSet>& sockets() const = 0;
    virtual int socket_index() const = 0;
    virtual void target_drained(const TargetState& target) = 0;
};

// What serves a listener's connections and datagrams, given to the workers
// by the server (listeners/protocols.cpp), so that the worker accepts and
// hands over without naming a session or listener type.
struct Protocols {
    // An accepted stream connection that passed the listener's limits and
    // allow list: start whatever serves it (PROXY header step, session).
    void (*accepted)(Worker& worker, const ListenerRuntime& listener, std::unique_ptr<TcpStream> stream,
                     ConnectionTicket ticket) = nullptr;
    // A udp listener's share on this worker: socket `socket_index` of its set.
    std::unique_ptr<DatagramListener> (*datagram)(Worker& worker, std::shared_ptr<const Runtime> runtime,
                                                  const ListenerRuntime& listener, int socket_index,
                                                  ProvidedBuffers& buffers) = nullptr;
};

class Worker final : public ExchangeHost {
public:
    Worker(int index, std::atomic<int64_t>* connection_budget, const Protocols& protocols);
    ~Worker();

    // Main thread. Without `accepting`, the worker serves nothing (no
    // accept, no datagram) until start_accepting(): a new lb taking over
    // another's sockets waits until it is ready (lb/control/server.cpp).
    void start(std::shared_ptr<const Runtime> runtime, bool accepting = true);
    void start_accepting();
    void publish(std::shared_ptr<const Runtime> runtime);
    // graceful: stop accepting, let sessions finish; else abort everything.
    // keep_idle (a binary upgrade's hand-over): idle keep-alive connections
    // are not closed at once but answer their next request with
    // Connection: close, so a client that sends one as the stop begins is
    // answered instead of seeing its connection close (the new lb serves
    // its next connection).
    void stop(bool graceful, bool keep_idle = false);
    void join();
    const WorkerCounters& counters() const { return counters_; }
    bool ready() const { return ready_.load(); }
    bool finished() const { return finished_.load(); }
    // Called on the worker thread as it exits.
    void set_exit_notifier(std::function<void()> notify) { exit_notifier_ = std::move(notify); }
    bool failed() const { return failed_.load(); }

    // Worker thread.
    int index() const { return index_; }
    EventLoop& loop() { return *loop_; }
    // ExchangeHost
    TimerWheel& timers() override { return loop_->timers(); }
    EventLoop* splice_loop() override { return loop_.get(); }
    int64_t now_ms() const { return loop_->now_ms(); }
    int64_t now_us() const override { return loop_->now_us(); }
    UpstreamConnector& upstreams() override { return *upstreams_; }
    AccessLogWriter& access_log() override { return access_log_; }
    const std::shared_ptr<WorkerSnapshot>& snapshot() const { return snapshot_; }
    WorkerCounters& counters() override { return counters_; }
    bool draining() const override { return draining_; }
    bool keeps_idle_connections() const { return keep_idle_; }
    void add_session(Session* session);
    void remove_session(Session* session);
    // nullptr, or which client limit a new connection from `client` is over
    // (counted and logged); a connection within them is held in `ticket`.
    const char* check_client_limits(const ListenerRuntime& listener, const SocketAddress& client,
                                    ConnectionTicket& ticket);
    // A client over one of its listener's client_limits (`limit` names it):
    // counted by the caller, logged here at most every 5 s per worker.
    void log_client_limited(const ListenerRuntime& listener, const SocketAddress& client, const char* limit);
    // `listener` as the current snapshot has it (same name and sockets), or
    // null if a reload removed it.
    const ListenerRuntime* current_listener(const ListenerRuntime& listener) const;

private:
    struct ListenerSlot;

    void run(std::shared_ptr<const Runtime> runtime);
    void adopt(std::shared_ptr<const Runtime> runtime);
    void adopt_listeners(const std::shared_ptr<const Runtime>& runtime);
    void stop_accepting(ListenerSlot& slot);
    void handle_connection(ListenerSlot& slot, UniqueFd fd);
    void adopt_udp_listeners(const std::shared_ptr<const Runtime>& runtime);
    void retire_udp_listener(std::unique_ptr<DatagramListener> listener);
    void begin_stop(bool graceful, bool keep_idle);
    void drain_started(const TargetState& target);
    void drain_deadline_reached(const TargetState& target);

    int index_;
    std::atomic<int64_t>* connection_budget_;
    Protocols protocols_;
    std::thread thread_;
    std::unique_ptr<EventLoop> loop_;
    std::unique_ptr<UpstreamPool> pool_;
    std::unique_ptr<WorkerUpstreams> upstreams_;
    std::unique_ptr<DrainWatch> drains_;
    AccessLogWriter access_log_;
    std::shared_ptr<WorkerSnapshot> snapshot_;
    std::vector<std::unique_ptr<ListenerSlot>> slots_;
    std::vector<std::unique_ptr<DatagramListener>> udp_listeners_;
    // Stopped (listener removed, worker stopping), freed once their
    // operations have ended.
    std::vector<std::unique_ptr<DatagramListener>> stopped_udp_listeners_;
    Session* sessions_ = nullptr;
    size_t session_count_ = 0;
    int64_t client_limited_logged_ms_ = -5000;  // log_client_limited: when it last wrote
    uint64_t client_limited_unlogged_ = 0;
    bool draining_ = false;
    bool keep_idle_ = false;  // the stop was a hand-over: see stop()
    bool accepting_ = true;
    WorkerCounters counters_;
    std::atomic<bool> ready_{false};
    std::atomic<bool> failed_{false};
    std::atomic<bool> finished_{false};
    std::function<void()> exit_notifier_;
};

}  // namespace lb

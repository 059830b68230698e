#include "listeners/tls_passthrough_session.h"

#include <cstring>

#include "health/passive_health.h"
#include "lb/hash.h"
#include "lb/log.h"
#include "lb/target_picker.h"
#include "lb/tcp_stream.h"
#include "listeners/proxy_protocol.h"
#include "listeners/tunnel.h"

namespace lb {

namespace {
constexpr size_t kMaxAttempts = 3;
}

TlsPassthroughSession::TlsPassthroughSession(Worker& worker, const ListenerRuntime& listener,
                                             std::unique_ptr<Stream> client, ConnectionTicket ticket)
    : Session(worker),
      snapshot_(worker.snapshot()),
      listener_(&listener),
      client_(std::move(client)),
      ticket_(std::move(ticket)),
      hello_timer_([this] { on_hello_timeout(); }) {}

void TlsPassthroughSession::start() {
    client_->set_handler(this);
    client_->start_reading();
    worker_.loop().timers().schedule(hello_timer_, listener_->config.header_timeout.count());
}

void TlsPassthroughSession::on_hello_timeout() {
    LB_LOG_DEBUG("tls_passthrough %s: no complete ClientHello from %s in time", listener_->config.name.c_str(),
                 client_ ? client_->peer().to_string().c_str() : "?");
    close(CloseMode::abort);
}

void TlsPassthroughSession::on_stream_data(Stream& stream, std::string_view data) {
    if (closing_ || &stream != client_.get()) return;
    switch (hello_.feed(data)) {
        case tls::ClientHelloParser::Status::need_more:
            return;
        case tls::ClientHelloParser::Status::invalid:
            LB_LOG_DEBUG("tls_passthrough %s: closing %s: %s", listener_->config.name.c_str(),
                         client_->peer().to_string().c_str(), hello_.error());
            close(CloseMode::abort);
            return;
        case tls::ClientHelloParser::Status::done:
            break;
    }
    // The client waits for the ServerHello now; what it sends later waits in
    // the kernel until the tunnel reads it.
    client_->stop_reading();
    worker_.loop().timers().cancel(hello_timer_);
    route();
}

void TlsPassthroughSession::route() {
    RequestView view;
    view.host = hello_.server_name();  // empty without SNI: only the default action matches
    view.source = &client_->peer();
    const conf::Action* action = listener_->rules->match(view);
    if (action->kind == conf::Action::Kind::forward)
        group_ = pick_group(*snapshot_->runtime, action->forward);
    if (!group_) {
        close(CloseMode::reset);
        return;
    }
    connect_next();
}

void TlsPassthroughSession::connect_next() {
    uint64_t client_hash = hash_client_address(client_->peer());
    const TargetEntry* entry =
        tried_.size() < kMaxAttempts ? pick_target(*snapshot_, *group_, client_hash, tried_) : nullptr;
    if (!entry) {
        // No target (or all tried): the client sees a reset, as from an NLB.
        close(CloseMode::reset);
        return;
    }
    target_ = entry->state;
    target_->connections_total.fetch_add(1, std::memory_order_relaxed);
    upstream_ = TcpStream::connect(worker_.loop(), entry->config.addr, group_->config.connect_timeout.count(), this);
}

void TlsPassthroughSession::on_stream_connected(Stream& stream, int error) {
    if (closing_ || &stream != upstream_.get()) return;
    if (error != 0) {
        target_->connect_failures.fetch_add(1, std::memory_order_relaxed);
        LB_LOG_DEBUG("tls_passthrough connect to %s failed: %s", target_->key.c_str(), strerror(-error));
        note_connect_failure(*target_, group_->config.health_check, error);
        tried_.push_back(target_.get());
        Stream::close(std::move(upstream_), CloseMode::abort);
        connect_next();
        return;
    }
    upstream_->write(proxy_protocol::encode(listener_->config.proxy_protocol, client_->peer(), client_->local()));
    upstream_->write(hello_.buffered());  // the ClientHello, byte for byte
    closing_ = true;
    worker_.loop().timers().cancel(hello_timer_);
    auto* tunnel = new TunnelSession(worker_, listener_->config.name, std::move(client_), std::move(upstream_),
                                     std::move(ticket_), target_, listener_->config.idle_timeout.count());
    tunnel->set_log_host(hello_.server_name());
    tunnel->start();
    retire();
}

void TlsPassthroughSession::on_stream_eof(Stream& stream) {
    if (&stream == client_.get()) close(CloseMode::abort);
}

void TlsPassthroughSession::on_stream_error(Stream& stream, int) {
    if (&stream == client_.get()) close(CloseMode::abort);
}

void TlsPassthroughSession::close(CloseMode mode) {
    if (closing_) return;
    closing_ = true;
    worker_.loop().timers().cancel(hello_timer_);
    Stream::close(std::move(upstream_), CloseMode::abort);
    Stream::close(std::move(client_), mode);
    retire();
}

}  // namespace lb

#include "listeners/tunnel_connect_session.h"

#include <cstring>

#include "health/passive_health.h"
#include "lb/base/hash.h"
#include "lb/base/log.h"
#include "lb/io/tcp_stream.h"
#include "lb/worker/target_picker.h"
#include "listeners/proxy_protocol.h"
#include "listeners/tunnel.h"

namespace lb {

TunnelConnectSession::TunnelConnectSession(Worker& worker, const ListenerRuntime& listener,
                                           std::unique_ptr<Stream> client, ConnectionTicket ticket)
    : Session(worker),
      snapshot_(worker.snapshot()),
      listener_(&listener),
      client_(std::move(client)),
      ticket_(std::move(ticket)) {}

void TunnelConnectSession::connect(const TargetGroupRuntime& group) {
    group_ = &group;
    connect_next();
}

void TunnelConnectSession::connect_next() {
    uint64_t client_hash = hash_client_address(client_->peer());
    const TargetEntry* entry =
        tried_.size() < static_cast<size_t>(kMaxConnectAttempts) ? pick_target(*snapshot_, *group_, client_hash, tried_) : nullptr;
    if (!entry) {
        // No target (or all tried): like an NLB, the client sees a reset.
        close(CloseMode::reset);
        return;
    }
    target_ = entry->state;
    target_->connections_total.fetch_add(1, std::memory_order_relaxed);
    upstream_ = TcpStream::connect(worker_.loop(), entry->config.addr, group_->config.connect_timeout.count(), this);
}

void TunnelConnectSession::on_stream_connected(Stream& stream, int error) {
    if (closing_ || &stream != upstream_.get()) return;
    if (error != 0) {
        LB_LOG_DEBUG("%s connect to %s failed: %s", conf::to_string(listener_->config.protocol),
                     target_->key.c_str(), strerror(-error));
        note_connect_failure(*target_, group_->config.health_check, error);
        tried_.push_back(target_.get());
        Stream::close(std::move(upstream_), CloseMode::abort);
        connect_next();
        return;
    }
    // The target learns who the client is before the client's first byte.
    upstream_->write(proxy_protocol::encode(listener_->config.proxy_protocol, client_->peer(), client_->local()));
    upstream_->write(replay());
    closing_ = true;
    auto* tunnel = new TunnelSession(worker_, listener_->config.name, std::move(client_), std::move(upstream_),
                                     std::move(ticket_), target_, listener_->config.idle_timeout.count());
    tunnel->set_log_host(std::string(log_host()));
    tunnel->start();
    retire();
}

void TunnelConnectSession::on_stream_eof(Stream& stream) {
    if (&stream == client_.get()) close(CloseMode::abort);
}

void TunnelConnectSession::on_stream_error(Stream& stream, int) {
    if (&stream == client_.get()) close(CloseMode::abort);
}

void TunnelConnectSession::close(CloseMode mode) {
    if (closing_) return;
    closing_ = true;
    Stream::close(std::move(upstream_), CloseMode::abort);
    Stream::close(std::move(client_), mode);
    retire();
}

}  // namespace lb

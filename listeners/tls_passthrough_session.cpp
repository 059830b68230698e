#include "listeners/tls_passthrough_session.h"

#include "lb/base/log.h"
#include "lb/worker/target_picker.h"

namespace lb {

TlsPassthroughSession::TlsPassthroughSession(Worker& worker, const ListenerRuntime& listener,
                                             std::unique_ptr<Stream> client, ConnectionTicket ticket)
    : TunnelConnectSession(worker, listener, std::move(client), std::move(ticket)),
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
    const TargetGroupRuntime* group = nullptr;
    if (action->kind == conf::Action::Kind::forward) group = pick_group(*snapshot_->runtime, action->forward);
    if (!group) {
        close(CloseMode::reset);
        return;
    }
    connect(*group);
}

void TlsPassthroughSession::close(CloseMode mode) {
    worker_.loop().timers().cancel(hello_timer_);
    TunnelConnectSession::close(mode);
}

}  // namespace lb

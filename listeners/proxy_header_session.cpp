#include "listeners/proxy_header_session.h"

#include "lb/base/log.h"
#include "listeners/protocols.h"

namespace lb {

ProxyHeaderSession::ProxyHeaderSession(Worker& worker, const ListenerRuntime& listener,
                                       std::unique_ptr<TcpStream> client, ConnectionTicket ticket)
    : Session(worker),
      snapshot_(worker.snapshot()),
      listener_(&listener),
      client_(std::move(client)),
      ticket_(std::move(ticket)),
      header_timer_([this] { refuse("no complete PROXY header within header_timeout"); }) {}

void ProxyHeaderSession::start() {
    client_->set_handler(this);
    client_->start_reading();
    worker_.loop().timers().schedule(header_timer_, listener_->config.header_timeout.count());
}

void ProxyHeaderSession::on_stream_data(Stream&, std::string_view data) {
    if (closing_) return;
    switch (parser_.feed(data)) {
        case proxy_protocol::Parser::Status::need_more:
            return;
        case proxy_protocol::Parser::Status::invalid:
            refuse(parser_.error());
            return;
        case proxy_protocol::Parser::Status::done:
            break;
    }
    const proxy_protocol::Header& header = parser_.header();
    if (!header.local) {
        client_->set_addresses(header.source, header.destination);
        ticket_.mark_via_proxy_header();
    }
    client_->stop_reading();
    client_->unread(parser_.rest());
    closing_ = true;
    worker_.loop().timers().cancel(header_timer_);
    // The listener's session starts on the current snapshot, as a fresh
    // accept would.
    const ListenerRuntime* listener = worker_.current_listener(*listener_);
    if (!listener) {
        Stream::close(std::move(client_), CloseMode::abort);
    } else {
        start_session(worker_, *listener, std::move(client_), std::move(ticket_));
    }
    retire();
}

void ProxyHeaderSession::refuse(const char* why) {
    if (closing_) return;
    listener_->state->proxy_header_invalid.fetch_add(1, std::memory_order_relaxed);
    LB_LOG_DEBUG("%s: closing %s: %s", listener_->config.name.c_str(), client_->peer().to_string().c_str(), why);
    close();
}

void ProxyHeaderSession::close() {
    if (closing_) return;
    closing_ = true;
    worker_.loop().timers().cancel(header_timer_);
    Stream::close(std::move(client_), CloseMode::abort);
    retire();
}

}  // namespace lb

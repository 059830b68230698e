#include "tls/tls_stream.h"

#include <openssl/err.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "lb/base/log.h"
#include "lb/io/tcp_stream.h"
#include "tls/client_context.h"
#include "tls/handshake_counters.h"
#include "tls/server_context.h"

namespace lb::tls {

namespace {

constexpr size_t kRecordSize = 16384;  // a full TLS record's plaintext

const SocketAddress& no_address() {
    static const SocketAddress none;
    return none;
}

}  // namespace

TlsStream::TlsStream(EventLoop& loop, Side side)
    : loop_(loop), side_(side), handshake_timer_([this] { on_handshake_timeout(); }) {}

TlsStream::~TlsStream() {
    if (ssl_) {
        // OpenSSL must not reach back into a stream that is going away.
        if (BIO* bio = SSL_get_rbio(ssl_.get())) BIO_set_data(bio, nullptr);
    }
}

bool TlsStream::attach_ssl(SslPtr ssl) {
    if (!ssl) return false;
    BIO* bio = BIO_new(bio_method());
    if (!bio) return false;
    BIO_set_data(bio, this);
    SSL_set_bio(ssl.get(), bio, bio);  // one reference, owned by the SSL
    ssl_ = std::move(ssl);
    return true;
}

std::unique_ptr<TlsStream> TlsStream::accept(EventLoop& loop, std::unique_ptr<Stream> transport,
                                             std::shared_ptr<const ServerContext> context,
                                             HandshakeCounters* counters) {
    std::unique_ptr<TlsStream> stream(new TlsStream(loop, Side::server));
    stream->counters_ = counters;
    stream->peer_ = transport->peer();
    stream->transport_ = std::move(transport);
    stream->transport_->set_handler(stream.get());
    int64_t timeout_ms = context->handshake_timeout_ms();
    bool attached = stream->attach_ssl(context->new_ssl());
    stream->context_ = std::move(context);
    if (!attached) {
        stream->fail(-ENOMEM, "cannot create the TLS session");
        return stream;
    }
    // The handshake needs the client's bytes whether or not the handler reads yet.
    stream->transport_->start_reading();
    stream->loop_.timers().schedule(stream->handshake_timer_, timeout_ms);
    return stream;
}

std::unique_ptr<TlsStream> TlsStream::connect(EventLoop& loop, const SocketAddress& to, int64_t timeout_ms,
                                              std::shared_ptr<const ClientContext> context, StreamHandler* handler,
                                              int receive_buffer) {
    std::unique_ptr<TlsStream> stream(new TlsStream(loop, Side::client));
    stream->handler_ = handler;
    stream->peer_ = to;
    bool attached = stream->attach_ssl(context->new_ssl(to));
    stream->context_ = std::move(context);
    if (!attached) {
        stream->fail(-EPROTO, "cannot create the TLS session");
        return stream;
    }
    stream->transport_ = TcpStream::connect(loop, to, timeout_ms, stream.get(), receive_buffer);
    // One budget for the TCP connect and one for the handshake.
    stream->loop_.timers().schedule(stream->handshake_timer_, 2 * timeout_ms);
    return stream;
}

const SocketAddress& TlsStream::local() const { return transport_ ? transport_->local() : no_address(); }

// ---------------------------------------------------------------- transport events

void TlsStream::on_stream_connected(Stream&, int error) {
    if (closing_ || failed_) return;
    if (error != 0) {
        failed_ = true;
        loop_.timers().cancel(handshake_timer_);
        connect_reported_ = true;
        if (handler_) handler_->on_stream_connected(*this, error);
        return;
    }
    transport_->start_reading();
    pump();  // sends the ClientHello
}

void TlsStream::on_stream_data(Stream&, std::string_view data) {
    if (closing_ || failed_) return;
    bool direct = input_.empty();
    if (direct) {
        offered_ = data;
    } else {
        input_.append(data);
        offered_ = input_;
    }
    pump();
    // Keep what OpenSSL has not taken yet (reading was stopped mid-way).
    if (direct) input_.assign(offered_);
    else input_.erase(0, input_.size() - offered_.size());
    offered_ = {};
    if (handshake_done_ && !want_read_ && transport_ && !closing_) transport_->stop_reading();
}

void TlsStream::on_stream_eof(Stream&) {
    if (closing_ || failed_) return;
    transport_eof_ = true;
    offered_ = input_;
    pump();
    input_.erase(0, input_.size() - offered_.size());
    offered_ = {};
}

void TlsStream::on_stream_error(Stream&, int error) {
    if (closing_) return;
    fail(error, "transport error");
}

void TlsStream::on_stream_drained(Stream&) {
    drain_owed_ = false;
    if (!closing_ && handshake_done_ && handler_) handler_->on_stream_drained(*this);
}

// ---------------------------------------------------------------- handshake and records

void TlsStream::pump() {
    if (!handshake_done_) {
        advance_handshake();
        if (!handshake_done_ || closing_ || failed_) return;
    }
    read_records();
}

void TlsStream::advance_handshake() {
    ERR_clear_error();
    int result = SSL_do_handshake(ssl_.get());
    if (result == 1) {
        on_handshake_done();
        return;
    }
    int error = SSL_get_error(ssl_.get(), result);
    if (error == SSL_ERROR_WANT_READ) {
        if (transport_eof_) fail(-ECONNRESET, "peer closed during the handshake");
        return;
    }
    tls_failed_ = true;
    fail(-EPROTO, "handshake failed");
}

void TlsStream::on_handshake_done() {
    handshake_done_ = true;
    if (counters_) {
        int version = SSL_version(ssl_.get());
        if (version >= TLS1_VERSION && version <= TLS1_3_VERSION)
            counters_->completed[static_cast<size_t>(version - TLS1_VERSION)].fetch_add(1, std::memory_order_relaxed);
        if (SSL_session_reused(ssl_.get())) counters_->resumed.fetch_add(1, std::memory_order_relaxed);
    }
    loop_.timers().cancel(handshake_timer_);
    flush_plaintext();
    if (shutdown_requested_) {
        send_close_notify();
        if (transport_) transport_->shutdown_write();
    }
    if (side_ == Side::client && !connect_reported_) {
        connect_reported_ = true;
        if (handler_) handler_->on_stream_connected(*this, 0);
    }
}

void TlsStream::read_records() {
    // Handlers take the data during the call, so one buffer per thread serves all streams.
    thread_local char buffer[kRecordSize];
    while (want_read_ && handler_ && !closing_ && !failed_ && !eof_delivered_) {
        ERR_clear_error();
        size_t length = 0;
        int result = SSL_read_ex(ssl_.get(), buffer, sizeof(buffer), &length);
        if (result == 1) {
            handler_->on_stream_data(*this, std::string_view(buffer, length));
            continue;
        }
        int error = SSL_get_error(ssl_.get(), result);
        if (error == SSL_ERROR_WANT_READ && !transport_eof_) return;
        if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_ZERO_RETURN) {
            // close_notify, or a bare FIN (tolerated like a plain TCP close).
            eof_delivered_ = true;
            handler_->on_stream_eof(*this);
            return;
        }
        tls_failed_ = true;
        fail(-EPROTO, "bad record");
        return;
    }
}

void TlsStream::schedule_pump() {
    if (pump_scheduled_) return;
    pump_scheduled_ = true;
    loop_.defer([this] {
        pump_scheduled_ = false;
        if (closing_ || failed_) return;
        offered_ = input_;
        pump();
        input_.erase(0, input_.size() - offered_.size());
        offered_ = {};
        if (handshake_done_ && !want_read_ && transport_ && !closing_) transport_->stop_reading();
    });
}

// ---------------------------------------------------------------- reading and writing

void TlsStream::start_reading() {
    if (closing_ || failed_) return;
    want_read_ = true;
    if (!transport_ || !handshake_done_) return;  // the handshake reads on its own
    transport_->start_reading();
    if (!input_.empty() || SSL_has_pending(ssl_.get()) || (transport_eof_ && !eof_delivered_)) schedule_pump();
}

void TlsStream::stop_reading() {
    if (closing_) return;
    want_read_ = false;
    if (transport_ && handshake_done_) transport_->stop_reading();
}

void TlsStream::write(std::string_view data) {
    if (closing_ || failed_ || shutdown_requested_ || data.empty()) return;
    if (handshake_done_ && plaintext_out_.empty() && data.size() >= kRecordSize) {
        // Big writes are sealed straight from the caller's buffer.
        ERR_clear_error();
        size_t written = 0;
        if (SSL_write_ex(ssl_.get(), data.data(), data.size(), &written) != 1) {
            tls_failed_ = true;
            fail(-EPROTO, "write failed");
        }
    } else {
        plaintext_out_.append(data);
        if (handshake_done_) {  // else sealed once the handshake is done
            if (plaintext_out_.size() >= kRecordSize) flush_plaintext();
            else schedule_flush();
        }
    }
    // The caller sees output_high() now and waits for on_stream_drained().
    // The transport owes that only once its own queue went over the mark,
    // and plaintext still to seal can put the sum over it alone.
    if (output_high()) drain_owed_ = true;
}

void TlsStream::schedule_flush() {
    if (flush_scheduled_) return;
    flush_scheduled_ = true;
    loop_.defer([this] {
        flush_scheduled_ = false;
        if (!closing_) flush_plaintext();
    });
}

void TlsStream::flush_plaintext() {
    if (!handshake_done_ || failed_ || plaintext_out_.empty() || !transport_) return;
    ERR_clear_error();
    size_t written = 0;
    int result = SSL_write_ex(ssl_.get(), plaintext_out_.data(), plaintext_out_.size(), &written);
    plaintext_out_.clear();
    if (result != 1) {
        tls_failed_ = true;
        fail(-EPROTO, "write failed");
        return;
    }
    // The sum was over the mark when the caller last looked, but sends that
    // completed before this seal can leave the transport's queue under it:
    // then the transport would never report a drain, so ask it for its flush.
    if (drain_owed_ && !transport_->output_high()) transport_->notify_when_flushed();
}

size_t TlsStream::pending_output() const {
    return plaintext_out_.size() + (transport_ ? transport_->pending_output() : 0);
}

void TlsStream::send_close_notify() {
    if (close_notify_sent_ || !handshake_done_ || failed_ || !transport_) return;
    flush_plaintext();
    if (failed_) return;
    close_notify_sent_ = true;
    ERR_clear_error();
    SSL_shutdown(ssl_.get());  // queues close_notify; we do not wait for the peer's
    ERR_clear_error();
}

void TlsStream::shutdown_write() {
    if (closing_ || failed_ || shutdown_requested_) return;
    shutdown_requested_ = true;
    if (!handshake_done_) return;  // done after the handshake
    send_close_notify();
    if (transport_) transport_->shutdown_write();
}

// ---------------------------------------------------------------- failure and close

void TlsStream::fail(int error, const char* what) {
    if (failed_) return;
    failed_ = true;
    loop_.timers().cancel(handshake_timer_);
    if (counters_ && !handshake_done_) {
        auto& counter = error == -EPROTO      ? counters_->failed_protocol
                        : error == -ETIMEDOUT ? counters_->failed_timeout
                                              : counters_->failed_closed;
        counter.fetch_add(1, std::memory_order_relaxed);
    }
    if (log_enabled(LogLevel::debug) || side_ == Side::client) {
        std::string reason = openssl_error();
        long verify = ssl_ ? SSL_get_verify_result(ssl_.get()) : X509_V_OK;
        if (verify != X509_V_OK) reason += std::string("; certificate: ") + X509_verify_cert_error_string(verify);
        const char* side = side_ == Side::server ? "client" : "target";
        if (side_ == Side::client && verify != X509_V_OK) {
            // A target whose certificate does not verify is an operator's problem: say so, not too often.
            thread_local int64_t last_warning = -1000000;
            if (loop_.now_ms() - last_warning >= 5000) {
                last_warning = loop_.now_ms();
                LB_LOG_WARN("TLS to target %s: %s: %s", peer_.to_string().c_str(), what, reason.c_str());
            }
        } else {
            LB_LOG_DEBUG("TLS with %s %s: %s: %s (%s)", side, peer_.to_string().c_str(), what, reason.c_str(),
                         strerror(-error));
        }
    }
    ERR_clear_error();
    // Never call the handler from inside its own call into us (write, start_reading).
    loop_.defer([this, error] {
        if (!closing_) report_failure(error);
    });
}

void TlsStream::report_failure(int error) {
    if (side_ == Side::client && !connect_reported_) {
        connect_reported_ = true;
        if (handler_) handler_->on_stream_connected(*this, error);
        return;
    }
    if (handler_) handler_->on_stream_error(*this, error);
}

void TlsStream::on_handshake_timeout() {
    if (closing_ || handshake_done_) return;
    fail(-ETIMEDOUT, "handshake timeout");
}

void TlsStream::begin_close(CloseMode mode) {
    if (closing_) return;
    closing_ = true;
    handler_ = nullptr;
    want_read_ = false;
    loop_.timers().cancel(handshake_timer_);
    CloseMode transport_mode = mode;
    if (mode == CloseMode::graceful || mode == CloseMode::linger) send_close_notify();
    // After a TLS failure the queued bytes are OpenSSL's alert: let it out.
    else if (mode == CloseMode::abort && tls_failed_) transport_mode = CloseMode::graceful;
    if (transport_) Stream::close(std::move(transport_), transport_mode);
    loop_.retire(this);
}

// ---------------------------------------------------------------- BIO

BIO_METHOD* TlsStream::bio_method() {
    static BIO_METHOD* method = [] {
        BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "lb stream");
        BIO_meth_set_read_ex(m, &TlsStream::bio_read);
        BIO_meth_set_write_ex(m, &TlsStream::bio_write);
        BIO_meth_set_ctrl(m, &TlsStream::bio_ctrl);
        BIO_meth_set_create(m, [](BIO* bio) {
            BIO_set_init(bio, 1);
            return 1;
        });
        return m;
    }();
    return method;
}

int TlsStream::bio_read(BIO* bio, char* out, size_t size, size_t* read) {
    auto* self = static_cast<TlsStream*>(BIO_get_data(bio));
    BIO_clear_retry_flags(bio);
    *read = 0;
    if (!self || self->offered_.empty()) {
        BIO_set_retry_read(bio);  // more will come through on_stream_data
        return 0;
    }
    size_t length = std::min(size, self->offered_.size());
    memcpy(out, self->offered_.data(), length);
    self->offered_.remove_prefix(length);
    *read = length;
    return 1;
}

int TlsStream::bio_write(BIO* bio, const char* data, size_t size, size_t* written) {
    auto* self = static_cast<TlsStream*>(BIO_get_data(bio));
    BIO_clear_retry_flags(bio);
    *written = 0;
    if (!self || !self->transport_) return 0;
    self->transport_->write(std::string_view(data, size));
    *written = size;
    return 1;
}

long TlsStream::bio_ctrl(BIO*, int command, long, void*) {
    switch (command) {
        case BIO_CTRL_FLUSH: return 1;  // writes are handed over at once
        case BIO_CTRL_PENDING:
        case BIO_CTRL_WPENDING: return 0;
        default: return 0;
    }
}

std::string_view TlsStream::negotiated_protocol() const {
    if (!handshake_done_ || !ssl_) return {};
    const unsigned char* data = nullptr;
    unsigned int length = 0;
    SSL_get0_alpn_selected(ssl_.get(), &data, &length);
    return {reinterpret_cast<const char*>(data), length};
}

}  // namespace lb::tls

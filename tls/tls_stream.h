// TlsStream: TLS over another Stream (a TcpStream), server or client side.
//
// OpenSSL never touches a socket here: a small BIO hands it the ciphertext
// the transport delivered (read straight from the transport's buffer, the
// unconsumed rest kept in `input_`) and passes the records it produces to
// transport->write(). So everything runs on the loop thread, never blocks,
// and the transport's back-pressure applies unchanged.
//
// It keeps the Stream contract: data is pushed while reading is started,
// callbacks never come from inside start_reading() or write(), close() hands
// the stream back. Plaintext written in one loop iteration is sealed into as
// few records as possible at the end of that iteration (or as soon as a full
// record's worth is queued).
//
// Server side: the handshake starts at once and must finish within the
// context's handshake timeout; a failed handshake leaves OpenSSL's alert to
// go out before the socket closes, and reaches the handler as
// on_stream_error. Client side: on_stream_connected(0) comes only after the
// handshake; a connect failure passes its -errno through, a handshake failure
// (bad certificate, protocol) is -EPROTO, a slow one -ETIMEDOUT.
//
// Close: graceful and linger send close_notify before the transport closes
// the same way. The stream holds its context (and through it the SSL_CTX
// and the SNI table) for its whole life, so a reload cannot pull them away.
#pragma once

#include <memory>
#include <string>

#include "lb/base/timer_wheel.h"
#include "lb/io/stream.h"
#include "tls/openssl_error.h"

namespace lb::tls {

class ServerContext;
class ClientContext;
struct HandshakeCounters;

class TlsStream final : public Stream, private StreamHandler {
public:
    // `counters` (optional) counts how the handshake ends; it must outlive
    // the stream (a listener's state does).
    static std::unique_ptr<TlsStream> accept(EventLoop& loop, std::unique_ptr<Stream> transport,
                                             std::shared_ptr<const ServerContext> context,
                                             HandshakeCounters* counters = nullptr);
    // `receive_buffer`: as TcpStream::connect's.
    static std::unique_ptr<TlsStream> connect(EventLoop& loop, const SocketAddress& to, int64_t timeout_ms,
                                              std::shared_ptr<const ClientContext> context, StreamHandler* handler,
                                              int receive_buffer = 0);
    ~TlsStream() override;

    void set_handler(StreamHandler* handler) override { handler_ = handler; }
    void start_reading() override;
    void stop_reading() override;
    void write(std::string_view data) override;
    size_t pending_output() const override;
    void shutdown_write() override;
    bool connected() const override { return handshake_done_ && !closing_ && !failed_; }
    const SocketAddress& peer() const override { return peer_; }
    const SocketAddress& local() const override;
    std::string_view negotiated_protocol() const override;

    bool handshake_done() const { return handshake_done_; }
    SSL* ssl() const { return ssl_.get(); }

protected:
    void begin_close(CloseMode mode) override;

private:
    enum class Side { server, client };
    TlsStream(EventLoop& loop, Side side);
    bool attach_ssl(SslPtr ssl);

    // transport events
    void on_stream_connected(Stream& stream, int error) override;
    void on_stream_data(Stream& stream, std::string_view data) override;
    void on_stream_eof(Stream& stream) override;
    void on_stream_error(Stream& stream, int error) override;
    void on_stream_drained(Stream& stream) override;

    void begin_handshake(int64_t timeout_ms);
    void pump();
    void advance_handshake();
    void on_handshake_done();
    void read_records();
    void schedule_pump();
    void schedule_flush();
    void flush_plaintext();
    void send_close_notify();
    void fail(int error, const char* what);
    void report_failure(int error);
    void on_handshake_timeout();

    // the BIO between OpenSSL and the transport
    static BIO_METHOD* bio_method();
    static int bio_read(BIO* bio, char* out, size_t size, size_t* read);
    static int bio_write(BIO* bio, const char* data, size_t size, size_t* written);
    static long bio_ctrl(BIO* bio, int command, long number, void* pointer);

    EventLoop& loop_;
    Side side_;
    std::unique_ptr<Stream> transport_;
    SslPtr ssl_;
    std::shared_ptr<const void> context_;  // ServerContext or ClientContext, kept alive
    StreamHandler* handler_ = nullptr;
    HandshakeCounters* counters_ = nullptr;  // server side
    SocketAddress peer_;

    // Ciphertext offered to OpenSSL: the transport's buffer while a delivery
    // runs, else what is left in input_.
    std::string input_;
    std::string_view offered_;
    std::string plaintext_out_;  // written, not yet sealed

    bool want_read_ = false;
    bool handshake_done_ = false;
    bool connect_reported_ = false;   // client: on_stream_connected delivered
    bool transport_eof_ = false;
    bool eof_delivered_ = false;
    bool shutdown_requested_ = false;
    bool close_notify_sent_ = false;
    bool failed_ = false;
    bool tls_failed_ = false;         // an alert may be queued for the peer
    bool closing_ = false;
    bool pump_scheduled_ = false;
    bool flush_scheduled_ = false;
    bool drain_owed_ = false;         // a write left output_high(): on_stream_drained() must follow
    Timer handshake_timer_;
};

}  // namespace lb::tls

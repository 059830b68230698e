// Stream: a byte stream over the event loop (plain TCP now; TLS wraps one).
// Sessions (HTTP, tunnels) are written against this interface only.
//
// Reading is push-based: while reading is started, data arrives through
// StreamHandler::on_stream_data and the handler must take all of it (copy
// what it cannot use yet). stop_reading() is the back-pressure switch: no
// data callbacks until start_reading(); bytes that were already in flight are
// held by the stream and delivered on resume.
//
// Writing takes the bytes at once (sent, or copied into the stream's queue:
// the caller's buffer is free on return); output_high() says the queue is over
// the high-water mark and the producer should pause its source until
// on_stream_drained().
//
// Ownership: a Stream is owned through unique_ptr by one handler at a time.
// Stream::close() takes it back: after that no callback reaches the old
// handler, and the stream frees itself once its socket operations finish.
#pragma once

#include <cstddef>
#include <list>
#include <memory>
#include <string>
#include <string_view>

#include "lb/base/net_address.h"
#include "lb/io/event_loop.h"

namespace lb {

class Stream;

class StreamHandler {
public:
    // Outbound streams only: error 0 = connected; else -errno (-ETIMEDOUT on timeout).
    virtual void on_stream_connected(Stream& stream, int error) = 0;
    virtual void on_stream_data(Stream& stream, std::string_view data) = 0;
    // The peer finished sending (FIN, or TLS close_notify).
    virtual void on_stream_eof(Stream& stream) = 0;
    // Reset, send failure, TLS failure: the stream is unusable; close it.
    virtual void on_stream_error(Stream& stream, int error) = 0;
    // Queued output fell to the low-water mark after output_high() was true.
    virtual void on_stream_drained(Stream& stream) = 0;
    // After Stream::pause_for_splice(): no receive is in flight any more.
    virtual void on_stream_paused(Stream&) {}

protected:
    ~StreamHandler() = default;
};

enum class CloseMode {
    graceful,  // send what is queued, then close
    linger,    // send what is queued, FIN, then read and drop until EOF or a short
               // timeout: the peer may still be sending (an unread request body),
               // and closing with unread input would RST away our answer
    abort,     // close now, queued output dropped
    reset,     // close now with RST (SO_LINGER 0): propagates a reset peer
};

class Stream : public Retirable {
public:
    static constexpr size_t kHighWater = 256 * 1024;
    static constexpr size_t kLowWater = 64 * 1024;

    virtual void set_handler(StreamHandler* handler) = 0;
    virtual void start_reading() = 0;
    virtual void stop_reading() = 0;
    virtual void write(std::string_view data) = 0;
    virtual size_t pending_output() const = 0;
    bool output_high() const { return pending_output() >= kHighWater; }
    // Send FIN once queued output is out; reading continues.
    virtual void shutdown_write() = 0;

    // Splicing (lb/io/splice_pump.h). The socket, when bytes may be moved
    // straight out of it (plain TCP, not reading, nothing held back) or
    // straight into it (plain TCP, open for writing); else -1. Whoever
    // splices from a stream must not start its reading, and whoever splices
    // into one must not write it, until it is closed.
    virtual int splice_source_fd() const { return -1; }
    virtual int splice_sink_fd() const { return -1; }
    // A splice sink with bytes still queued: on_stream_drained() once they
    // are all out, so spliced bytes do not overtake them.
    virtual void notify_when_flushed() {}
    // Stops reading to splice from this stream next: false when it cannot
    // be spliced from (TLS, at EOF, failed). Else on_stream_paused() follows
    // (never from inside this call) once no receive is in flight; then
    // take_held_input() hands over what arrived meanwhile (as received, a
    // piece per receive: no copy), which comes
    // before any byte spliced, and splice_source_fd() says whether the
    // socket may be spliced from now.
    virtual bool pause_for_splice() { return false; }
    virtual std::list<std::string> take_held_input() { return {}; }
    virtual bool connected() const = 0;
    virtual const SocketAddress& peer() const = 0;
    virtual const SocketAddress& local() const = 0;
    // The protocol agreed in the TLS handshake (ALPN: "h2", "http/1.1"), or
    // empty: no TLS, no ALPN, or the handshake is not done.
    virtual std::string_view negotiated_protocol() const { return {}; }

    static void close(std::unique_ptr<Stream> stream, CloseMode mode) {
        if (stream) stream.release()->begin_close(mode);
    }

protected:
    virtual void begin_close(CloseMode mode) = 0;
};

}  // namespace lb

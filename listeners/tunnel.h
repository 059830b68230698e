// TunnelSession: a byte pump between two streams with no parser in the way —
// WebSocket after a 101, and every TCP passthrough connection. Back-pressure
// per direction, half-close propagated (EOF on one side becomes FIN on the
// other once its queue is out), one idle timeout for both directions.
//
// A direction between two plain TCP sockets, whose source has nothing held
// back, is spliced (lb/io/splice_pump.h: no copy through user memory); the
// others (TLS, a WebSocket's upgraded connection still reading) go through
// the streams.
#pragma once

#include <memory>
#include <string>

#include "lb/io/splice_pump.h"
#include "lb/io/stream.h"
#include "lb/targets/target_state.h"
#include "lb/worker/session.h"
#include "lb/worker/worker.h"

namespace lb {

class TunnelSession final : public Session, private StreamHandler, private SplicePump::Handler {
public:
    TunnelSession(Worker& worker, std::string listener_name, std::unique_ptr<Stream> client,
                  std::unique_ptr<Stream> upstream, ConnectionTicket ticket, std::shared_ptr<TargetState> target,
                  int64_t idle_timeout_ms);
    ~TunnelSession() override;

    void start();
    // What the access log shows as the host (tls_passthrough: the SNI name).
    void set_log_host(std::string host) { log_host_ = std::move(host); }
    // For the access log: how long the target's connect took (µs) and how
    // many tries came before it (TCP and TLS passthrough tunnels).
    void set_log_connect(int64_t connect_us, int retries) {
        connect_us_ = connect_us;
        retries_ = retries;
    }
    void drain() override {}  // tunnels live until the shutdown timeout
    void abort() override { close(CloseMode::abort); }
    // A tunnel outlives its target's drain start, not its deregistration delay.
    void target_drained(const TargetState& target) override {
        if (target_.get() == &target) close(CloseMode::graceful);
    }

private:
    struct Side {
        std::unique_ptr<Stream> stream;
        bool eof = false;         // this side sent FIN
        bool paused = false;      // we stopped reading it (peer's queue is full)
        uint64_t bytes = 0;       // received from this side
        std::unique_ptr<SplicePump> pump;  // moving this side's bytes, when spliced
    };

    void on_stream_connected(Stream&, int) override {}
    void on_stream_data(Stream& stream, std::string_view data) override;
    void on_stream_eof(Stream& stream) override;
    void on_stream_error(Stream& stream, int error) override;
    void on_stream_drained(Stream& stream) override;
    void on_pump_moved(SplicePump& pump, size_t bytes) override;
    void on_pump_eof(SplicePump& pump) override;
    void on_pump_error(SplicePump& pump, int error) override;
    void on_pump_unavailable(SplicePump& pump) override;
    void start_direction(Side& from, Side& to);
    void source_finished(Side& from, Side& to);
    Side& source_of(SplicePump& pump) { return &pump == client_.pump.get() ? client_ : upstream_; }
    Side& side_of(Stream& stream) { return &stream == client_.stream.get() ? client_ : upstream_; }
    Side& other_of(Stream& stream) { return &stream == client_.stream.get() ? upstream_ : client_; }
    void touch();
    void close(CloseMode mode);

    std::string listener_name_;
    Side client_;
    Side upstream_;
    ConnectionTicket ticket_;
    std::shared_ptr<TargetState> target_;
    int64_t idle_timeout_ms_;
    int64_t start_ms_;
    int64_t connect_us_ = -1;     // -1: not known (a WebSocket's, logged on its 101)
    int retries_ = -1;
    bool closing_ = false;
    Timer idle_timer_;
    std::string client_ip_;
    uint16_t client_port_ = 0;
    std::string log_host_;
};

}  // namespace lb

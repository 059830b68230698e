// UdpListener: a udp listener on one worker (NLB-style UDP). The worker's
// SO_REUSEPORT socket of the listener receives with one multishot recvmsg
// into the loop's datagram buffers (the kernel hashes a client's
// address:port to one worker, so its flow lives there). Each client
// address:port is a flow (UdpFlow) with the target the group's algorithm
// chose and a socket connected to it; replies go back to the client from
// the listener's socket (and address). Flows end after udp.idle_timeout;
// the table holds at most udp.max_flows, dropping the least recently used
// flow first. A target that answers ICMP port unreachable is done for that
// flow: the client's next datagram picks another; so does a target that
// turned unhealthy, or whose deregistration delay ran out.
//
// Threading: owned by its Worker, loop thread only. The runtime listener is
// swapped on reload (update) and the snapshot it lives in is held, so a
// stopped listener can still name itself while its flows end; flows keep
// their targets while those stay in the snapshot and in the listener's
// groups.
#pragma once

#include <sys/socket.h>

#include <memory>
#include <vector>

#include "lb/io/provided_buffers.h"
#include "lb/runtime/listener_state.h"
#include "lb/runtime/runtime.h"
#include "lb/worker/worker.h"
#include "listeners/datagram_sender.h"
#include "listeners/udp_flow_table.h"

namespace lb {

class UdpFlow;
class Worker;

class UdpListener final : public DatagramListener {
public:
    // Receives on socket `socket_index` of the listener's set.
    UdpListener(Worker& worker, std::shared_ptr<const Runtime> runtime, const ListenerRuntime& listener,
                int socket_index, ProvidedBuffers& buffers);
    ~UdpListener() override;
    UdpListener(const UdpListener&) = delete;
    UdpListener& operator=(const UdpListener&) = delete;

    void start() override;
    // The same listener in a new snapshot. Flows whose target left the
    // snapshot (its group removed) or whose group the listener no longer
    // forwards to end now.
    void update(std::shared_ptr<const Runtime> runtime, const ListenerRuntime& listener) override;
    // Stop receiving and end every flow (worker stop, listener removed).
    void stop() override;
    // Stopped and nothing in flight any more: may be destroyed.
    bool finished() const override;
    const std::shared_ptr<ListenSocketSet>& sockets() const override { return sockets_; }
    int socket_index() const override { return socket_index_; }
    // The deregistration delay of `target` ran out: its flows end now.
    void target_drained(const TargetState& target) override;

    // For this listener's flows.
    EventLoop& loop() const;
    ProvidedBuffers& buffers() const { return buffers_; }
    DatagramSender& sender() { return sender_; }
    int64_t idle_timeout_ms() const { return idle_timeout_ms_; }
    void reply(UdpFlow& flow, const char* data, size_t size, uint16_t buffer);
    void touch(UdpFlow& flow);
    void flow_refused(UdpFlow& flow);
    void flow_expired(UdpFlow& flow);
    void flow_released(UdpFlow& flow);

private:
    enum class End { expired, evicted, replaced, stopped, drained };

    void arm_recv();
    void on_recv(int result, uint32_t flags);
    void on_datagram(const SocketAddress& client, const SocketAddress& local, const char* data, size_t size,
                     uint16_t buffer);
    UdpFlow* open_flow(const SocketAddress& client, std::vector<std::shared_ptr<const TargetState>> refused);
    bool should_replace(UdpFlow& flow);
    bool still_routed(const UdpFlow& flow) const;
    void end_flow(UdpFlow& flow, End why);
    void log_flow(const UdpFlow& flow);

    Worker& worker_;
    std::shared_ptr<const Runtime> runtime_;  // holds listener_
    const ListenerRuntime* listener_;
    std::shared_ptr<ListenSocketSet> sockets_;
    std::shared_ptr<ListenerState> state_;
    ProvidedBuffers& buffers_;
    DatagramSender sender_;
    UdpFlowTable flows_;
    int socket_index_;
    int fd_;
    bool wildcard_;  // bound to 0.0.0.0 / [::]: replies name their source (IP_PKTINFO)
    int64_t idle_timeout_ms_;
    size_t max_flows_;
    size_t live_flows_ = 0;  // in the table or still finishing their operations
    bool recv_armed_ = false;
    bool stopped_ = false;
    Timer retry_timer_;  // re-arms the receive after an unexpected error
    msghdr recv_header_{};  // names how much room recvmsg leaves for address and control data
    CompletionOf<UdpListener, &UdpListener::on_recv> recv_completion_{this};
};

}  // namespace lb

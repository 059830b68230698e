// UdpFlow: one client address:port on a udp listener and the target it was
// given, with a socket connected to that target, so the target's replies
// (and an ICMP port unreachable) come back to this flow alone. Datagrams
// either way keep it alive; udp.idle_timeout without one ends it.
//
// Lifetime: made and ended by its UdpListener on the loop thread. end()
// cancels the socket's operations; the object frees itself
// (EventLoop::retire) once they are done, so the listener outlives it.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "lb/base/unique_fd.h"
#include "lb/io/event_loop.h"
#include "lb/targets/target_state.h"
#include "listeners/datagram_sender.h"
#include "listeners/udp_flow_table.h"

namespace lb {

class UdpListener;

class UdpFlow final : public UdpFlowEntry, public Retirable, private DatagramSendObserver {
public:
    UdpFlow(UdpListener& owner, const SocketAddress& client, std::shared_ptr<TargetState> target);
    ~UdpFlow() override;

    // Opens the socket to the target and starts receiving from it: 0, or
    // the errno why not (nothing is in flight then: delete the flow).
    int open();
    void end();

    TargetState& target() const { return *target_; }
    // The address the client sent to (listeners bound to a wildcard), so
    // replies leave from it; invalid otherwise.
    const SocketAddress& local() const { return local_; }
    void set_local(const SocketAddress& local) { local_ = local; }

    // A client datagram, to the target; `buffer` is released once it is sent.
    void forward(const char* data, size_t size, uint16_t buffer);
    // The target answered ICMP port, host or network unreachable: this flow
    // is done with it, the client's next datagram picks another target.
    bool refused() const { return refused_; }
    // Targets that refused this client (carried to the flow that replaces
    // this one); held, so a freed target's address cannot alias another.
    std::vector<std::shared_ptr<const TargetState>>& refused_targets() { return refused_targets_; }

    uint64_t bytes_in() const { return bytes_in_; }    // client to target
    uint64_t bytes_out() const { return bytes_out_; }  // target to client
    int64_t start_ms() const { return start_ms_; }

private:
    void arm_recv();
    void on_recv(int result, uint32_t flags);
    void on_datagram_sent(int result) override;
    void on_idle_timer();
    void touch();
    void mark_refused();
    void maybe_release();

    UdpListener& owner_;
    EventLoop& loop_;
    std::shared_ptr<TargetState> target_;
    SocketAddress local_;
    std::vector<std::shared_ptr<const TargetState>> refused_targets_;
    UniqueFd fd_;
    bool recv_armed_ = false;
    bool ended_ = false;
    bool released_ = false;
    bool refused_ = false;
    int sends_in_flight_ = 0;
    int64_t start_ms_;
    int64_t last_active_ms_;
    uint64_t bytes_in_ = 0;
    uint64_t bytes_out_ = 0;
    Timer idle_timer_;
    msghdr recv_header_{};  // no address or control data: the socket is connected
    CompletionOf<UdpFlow, &UdpFlow::on_recv> recv_completion_{this};
};

}  // namespace lb

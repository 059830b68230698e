#include "listeners/udp_listener.h"

#include <netinet/in.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "health/passive_health.h"
#include "lb/base/hash.h"
#include "lb/worker/request_hash.h"
#include "lb/base/log.h"
#include "lb/worker/target_picker.h"
#include "lb/worker/worker.h"
#include "listeners/udp_flow.h"

namespace lb {

namespace {

// The destination address of a received datagram, from its IP_PKTINFO /
// IPV6_PKTINFO control message.
SocketAddress destination_of(io_uring_recvmsg_out* out, msghdr* header) {
    sockaddr_storage storage{};
    for (cmsghdr* cmsg = io_uring_recvmsg_cmsg_firsthdr(out, header); cmsg;
         cmsg = io_uring_recvmsg_cmsg_nexthdr(out, header, cmsg)) {
        if (cmsg->cmsg_level == IPPROTO_IP && cmsg->cmsg_type == IP_PKTINFO) {
            in_pktinfo info;
            std::memcpy(&info, CMSG_DATA(cmsg), sizeof(info));
            auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
            v4->sin_family = AF_INET;
            v4->sin_addr = info.ipi_spec_dst;  // the local address it came to (ipi_addr may be a broadcast)
            return SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&storage), sizeof(sockaddr_in));
        }
        if (cmsg->cmsg_level == IPPROTO_IPV6 && cmsg->cmsg_type == IPV6_PKTINFO) {
            in6_pktinfo info;
            std::memcpy(&info, CMSG_DATA(cmsg), sizeof(info));
            auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
            v6->sin6_family = AF_INET6;
            v6->sin6_addr = info.ipi6_addr;
            return SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&storage), sizeof(sockaddr_in6));
        }
    }
    return SocketAddress();
}

}  // namespace

UdpListener::UdpListener(Worker& worker, std::shared_ptr<const Runtime> runtime, const ListenerRuntime& listener,
                         int socket_index, ProvidedBuffers& buffers)
    : worker_(worker),
      runtime_(std::move(runtime)),
      listener_(&listener),
      sockets_(listener.sockets),
      state_(listener.state),
      buffers_(buffers),
      sender_(worker.loop(), buffers),
      socket_index_(socket_index),
      fd_(listener.sockets->fd(socket_index)),
      wildcard_(listener.config.listen.is_any()),
      idle_timeout_ms_(listener.config.udp.idle_timeout.count()),
      max_flows_(static_cast<size_t>(listener.config.udp.max_flows)),
      retry_timer_([this] { arm_recv(); }) {
    recv_header_.msg_namelen = sizeof(sockaddr_storage);
    recv_header_.msg_controllen = wildcard_ ? CMSG_SPACE(sizeof(in6_pktinfo)) : 0;
}

UdpListener::~UdpListener() { loop().timers().cancel(retry_timer_); }

EventLoop& UdpListener::loop() const { return worker_.loop(); }

void UdpListener::start() { arm_recv(); }

void UdpListener::update(std::shared_ptr<const Runtime> runtime, const ListenerRuntime& listener) {
    if (listener.state != state_) {
        // Renamed: the open flows now count for the new name.
        auto open = static_cast<int64_t>(flows_.size());
        state_->udp_flows.fetch_sub(open, std::memory_order_relaxed);
        listener.state->udp_flows.fetch_add(open, std::memory_order_relaxed);
        state_ = listener.state;
    }
    listener_ = &listener;
    runtime_ = std::move(runtime);
    idle_timeout_ms_ = listener.config.udp.idle_timeout.count();
    max_flows_ = static_cast<size_t>(listener.config.udp.max_flows);
    for (UdpFlowEntry* entry : flows_.entries()) {
        auto& flow = static_cast<UdpFlow&>(*entry);
        if (!still_routed(flow)) end_flow(flow, End::drained);
    }
    while (flows_.size() > max_flows_) end_flow(static_cast<UdpFlow&>(*flows_.oldest()), End::evicted);
}

void UdpListener::arm_recv() {
    if (recv_armed_ || stopped_) return;
    io_uring_sqe* sqe = loop().sqe_for(&recv_completion_);
    io_uring_prep_recvmsg_multishot(sqe, fd_, &recv_header_, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = buffers_.group();
    recv_armed_ = true;
}

void UdpListener::on_recv(int result, uint32_t flags) {
    if (!(flags & IORING_CQE_F_MORE)) recv_armed_ = false;
    if (flags & IORING_CQE_F_BUFFER) {
        uint16_t buffer = ProvidedBuffers::id_of(flags);
        auto* out = result >= 0 ? io_uring_recvmsg_validate(buffers_.buffer(buffer), result, &recv_header_) : nullptr;
        // MSG_TRUNC cannot happen with 64 KiB buffers; drop rather than forward a cut datagram.
        if (!out || stopped_ || (out->flags & MSG_TRUNC) || out->namelen > sizeof(sockaddr_storage)) {
            buffers_.release(buffer);
        } else {
            SocketAddress client = SocketAddress::from_sockaddr(
                static_cast<const sockaddr*>(io_uring_recvmsg_name(out)), out->namelen);
            SocketAddress local = wildcard_ ? destination_of(out, &recv_header_) : SocketAddress();
            auto* payload = static_cast<const char*>(io_uring_recvmsg_payload(out, &recv_header_));
            auto size = static_cast<size_t>(io_uring_recvmsg_payload_length(out, result, &recv_header_));
            on_datagram(client, local, payload, size, buffer);
        }
    }
    if (recv_armed_ || stopped_) return;
    if (result == -ENOBUFS) {
        // Every datagram buffer is in use; they come back as sends complete.
        loop().defer([this] { arm_recv(); });
    } else if (result < 0 && result != -ECANCELED) {
        // Unexpected: say so (not on every datagram) and retry shortly
        // rather than spin on an error that stays.
        static thread_local int64_t last_warning = INT64_MIN / 2;
        if (loop().now_ms() - last_warning > 5000) {
            last_warning = loop().now_ms();
            LB_LOG_WARN("udp listener %s: receive failed: %s", listener_->config.name.c_str(), strerror(-result));
        }
        loop().timers().schedule(retry_timer_, 100);
    } else {
        arm_recv();
    }
}

void UdpListener::on_datagram(const SocketAddress& client, const SocketAddress& local, const char* data,
                              size_t size, uint16_t buffer) {
    auto* flow = static_cast<UdpFlow*>(flows_.find(client));
    std::vector<std::shared_ptr<const TargetState>> refused;
    if (flow && should_replace(*flow)) {
        refused = std::move(flow->refused_targets());
        end_flow(*flow, End::replaced);
        flow = nullptr;
    }
    if (!flow) {
        const auto& allow = listener_->config.allow;
        if (allow.empty() || in_any(allow, client)) flow = open_flow(client, std::move(refused));
    }
    if (!flow) {
        buffers_.release(buffer);  // not allowed, no target, no socket: dropped
        return;
    }
    if (local.valid()) flow->set_local(local);
    flow->forward(data, size, buffer);
}

UdpFlow* UdpListener::open_flow(const SocketAddress& client,
                                std::vector<std::shared_ptr<const TargetState>> refused) {
    WorkerSnapshot& snapshot = *worker_.snapshot();
    const conf::Action& action = listener_->config.default_action;
    if (action.kind != conf::Action::Kind::forward) return nullptr;
    const TargetGroupRuntime* group = pick_group(*snapshot.runtime, action.forward);
    if (!group) return nullptr;
    uint64_t client_hash = request_hash(group->config, client, nullptr, {});
    std::vector<const TargetState*> exclude;
    for (const auto& target : refused) exclude.push_back(target.get());
    const TargetEntry* entry = pick_target(snapshot, *group, client_hash, exclude);
    if (!entry && !refused.empty()) {
        // Every target has refused this client once: start over, one may be back.
        refused.clear();
        entry = pick_target(snapshot, *group, client_hash);
    }
    if (!entry) return nullptr;

    // Open first, evict after: a flow that cannot get a socket (the host's
    // local ports used up) must not cost a live one its place.
    auto flow = std::make_unique<UdpFlow>(*this, client, entry->state);
    if (int error = flow->open(); error != 0) {
        state_->udp_flows_failed.fetch_add(1, std::memory_order_relaxed);
        static thread_local int64_t last_warning = INT64_MIN / 2;
        if (loop().now_ms() - last_warning > 5000) {
            last_warning = loop().now_ms();
            LB_LOG_WARN("udp listener %s: no socket for a flow to %s: %s (local ports used up? see "
                        "net.ipv4.ip_local_port_range)",
                        listener_->config.name.c_str(), entry->state->key.c_str(), strerror(error));
        }
        return nullptr;
    }
    if (flows_.size() >= max_flows_) end_flow(static_cast<UdpFlow&>(*flows_.oldest()), End::evicted);
    UdpFlow* opened = flow.release();
    opened->refused_targets() = std::move(refused);
    ++live_flows_;
    flows_.insert(opened);
    state_->udp_flows.fetch_add(1, std::memory_order_relaxed);
    state_->udp_flows_created.fetch_add(1, std::memory_order_relaxed);
    return opened;
}

bool UdpListener::should_replace(UdpFlow& flow) {
    if (flow.refused()) return true;
    if (flow.target().health.load(std::memory_order_relaxed) != TargetHealth::unhealthy) return false;
    // An unhealthy target is cut at once, unless the whole group is down
    // (fail open): then moving the flow would gain nothing.
    const TargetGroupRuntime* group = runtime_->group(flow.target().group);
    if (!group) return false;
    return std::any_of(group->targets.begin(), group->targets.end(), [](const TargetEntry& entry) {
        return entry.config.weight > 0 && entry.state->routable();
    });
}

bool UdpListener::still_routed(const UdpFlow& flow) const {
    const conf::Action& action = listener_->config.default_action;
    if (action.kind != conf::Action::Kind::forward) return false;
    const std::string& group_name = flow.target().group;
    const auto& groups = action.forward.target_groups;
    if (std::none_of(groups.begin(), groups.end(), [&](const auto& g) { return g.name == group_name; })) return false;
    const TargetGroupRuntime* group = runtime_->group(group_name);
    return group && std::any_of(group->targets.begin(), group->targets.end(), [&](const TargetEntry& entry) {
        return entry.state.get() == &flow.target();
    });
}

void UdpListener::reply(UdpFlow& flow, const char* data, size_t size, uint16_t buffer) {
    if (stopped_) {
        buffers_.release(buffer);
        return;
    }
    sender_.send_to(fd_, data, size, buffer, flow.client, flow.local());
}

void UdpListener::touch(UdpFlow& flow) { flows_.touch(&flow); }

void UdpListener::flow_refused(UdpFlow& flow) {
    TargetState& target = flow.target();
    state_->udp_target_refused.fetch_add(1, std::memory_order_relaxed);
    LB_LOG_DEBUG("udp listener %s: target %s refused %s", listener_->config.name.c_str(), target.key.c_str(),
                 flow.client.to_string().c_str());
    if (const TargetGroupRuntime* group = runtime_->group(target.group))
        note_connect_failure(target, group->config.health_check, -ECONNREFUSED);
}

void UdpListener::flow_expired(UdpFlow& flow) { end_flow(flow, End::expired); }

void UdpListener::flow_released(UdpFlow&) { --live_flows_; }

void UdpListener::end_flow(UdpFlow& flow, End why) {
    flows_.erase(&flow);
    state_->udp_flows.fetch_sub(1, std::memory_order_relaxed);
    if (why == End::expired) state_->udp_flows_expired.fetch_add(1, std::memory_order_relaxed);
    if (why == End::evicted) state_->udp_flows_evicted.fetch_add(1, std::memory_order_relaxed);
    log_flow(flow);
    flow.end();
}

void UdpListener::log_flow(const UdpFlow& flow) {
    if (flow.bytes_in() == 0 && flow.bytes_out() == 0) return;  // never carried a datagram
    AccessLogEntry entry;
    entry.listener = listener_->config.name;
    std::string client_ip = flow.client.ip_string();
    entry.client = client_ip;
    entry.client_port = flow.client.port();
    entry.protocol = "udp";
    entry.bytes_in = flow.bytes_in();
    entry.bytes_out = flow.bytes_out();
    entry.duration_us = (loop().now_ms() - flow.start_ms()) * 1000;
    entry.target = flow.target().key;
    entry.target_group = flow.target().group;
    worker_.access_log().record(entry);
}

void UdpListener::target_drained(const TargetState& target) {
    for (UdpFlowEntry* entry : flows_.entries()) {
        auto& flow = static_cast<UdpFlow&>(*entry);
        if (&flow.target() == &target) end_flow(flow, End::drained);
    }
}

void UdpListener::stop() {
    if (stopped_) return;
    stopped_ = true;
    if (recv_armed_)
        loop().cancel(recv_completion_);
    for (UdpFlowEntry* entry : flows_.entries()) end_flow(static_cast<UdpFlow&>(*entry), End::stopped);
}

bool UdpListener::finished() const { return stopped_ && !recv_armed_ && sender_.idle() && live_flows_ == 0; }

}  // namespace lb

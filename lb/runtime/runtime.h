// Runtime: one immutable snapshot of the configuration, compiled for
// serving — listeners with their sockets and compiled rules, target groups
// with their TargetStates and balancer factories (docs/architecture.md, "Objects").
//
// Threading: built on the main thread; published to workers as
// shared_ptr<const Runtime>; never modified after publication. A request
// keeps the snapshot it started with alive.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "conf/config.h"
#include "lb/base/result.h"
#include "lb/io/listen_socket.h"
#include "lb/routing/rules.h"
#include "lb/runtime/client_limiter.h"
#include "lb/runtime/listener_state.h"
#include "lb/targets/balancer.h"
#include "lb/targets/drain_tracker.h"
#include "lb/targets/sticky_cookie.h"
#include "lb/targets/target_state.h"
#include "lb/targets/zone_split.h"

namespace lb {

namespace tls {
class ClientContext;
class ServerContext;
class TicketKeys;
}  // namespace tls

// Added to a `backup: true` target's tier (SRV priorities are 0..65535).
inline constexpr int kBackupTier = 1 << 20;

struct TargetEntry {
    std::shared_ptr<TargetState> state;
    conf::Target config;
    uint64_t sticky_id = 0;  // sticky_signer->target_id(state->key): what cookies name it by
};

struct TargetGroupRuntime {
    uint32_t index = 0;  // dense, for per-worker arrays
    conf::TargetGroup config;
    std::vector<TargetEntry> targets;
    std::shared_ptr<TargetGroupState> state;  // kept across snapshots by name
    std::unique_ptr<BalancerFactory> balancer;
    std::shared_ptr<const tls::ClientContext> tls;  // protocol: https
    // Set when a hash picks the target (source_ip stickiness, the
    // source_ip_hash or hash algorithm): the zone is then hashed too, not
    // rotated.
    bool client_hashed = false;
    // Targets in more than one tier (SRV priorities, backup targets): only the lowest tier
    // with a target that may take traffic is picked from.
    bool tiered = false;
    // cross_zone: false with more than one zone; null otherwise.
    std::unique_ptr<const ZoneSplit> zones;
    // Cookie stickiness (listeners/target_stickiness.h): lb's cookie for
    // this group (empty: none) and the scope its values are signed for.
    std::string sticky_cookie;
    std::string sticky_scope;
    // sticky_id -> index into targets, for cookie stickiness.
    std::unordered_map<uint64_t, uint32_t> targets_by_sticky_id;

    const TargetEntry* target_by_sticky_id(uint64_t id) const {
        auto it = targets_by_sticky_id.find(id);
        return it == targets_by_sticky_id.end() ? nullptr : &targets[it->second];
    }
    bool cookie_sticky() const { return !sticky_cookie.empty(); }
};

struct ListenerRuntime {
    uint32_t index = 0;
    conf::Listener config;
    std::shared_ptr<ListenSocketSet> sockets;
    std::shared_ptr<ListenerState> state;  // counts and limits that outlive this snapshot
    std::shared_ptr<const RuleSet> rules;  // http, https, tls_passthrough
    std::shared_ptr<const tls::ServerContext> tls;  // https: certificates loaded for this snapshot
    std::shared_ptr<ClientLimiter> client_limiter;  // with client_limits; shared by workers
};

struct Runtime {
    uint64_t generation = 0;
    conf::Config config;
    int workers = 1;
    std::vector<std::unique_ptr<ListenerRuntime>> listeners;
    std::vector<std::unique_ptr<TargetGroupRuntime>> groups;
    std::unordered_map<std::string, const TargetGroupRuntime*> groups_by_name;
    std::shared_ptr<const StickyCookieSigner> sticky_signer;  // never null
    // Every cookie lb issues under this config (group and target
    // stickiness): removed from every request before it is forwarded.
    std::vector<std::string> lb_cookie_names;

    const TargetGroupRuntime* group(const std::string& name) const {
        auto it = groups_by_name.find(name);
        return it == groups_by_name.end() ? nullptr : it->second;
    }
};

// A checked target's health as the lb this one replaced (binary upgrade)
// last saw it.
struct CarriedTargetHealth {
    TargetHealth health = TargetHealth::initial;
    int64_t in_service_since_ms = 0;  // steady clock: the same across processes
};

// Main thread only: what carries over between snapshots.
struct RuntimeBuilder {
    TargetRegistry targets;
    ListenerRegistry listener_states;
    TargetGroupRegistry group_states;
    ListenSocketPool sockets;
    // One ticket key ring for the process: tickets open on every worker and
    // survive reloads.
    std::shared_ptr<tls::TicketKeys> ticket_keys;
    uint64_t next_generation = 1;
    // Used when global.sticky_secret_file is unset; kept across reloads so
    // cookies stay valid until the process restarts.
    std::shared_ptr<const StickyCookieSigner> random_signer;
    bool warned_random_signer = false;
    // Handed over by a binary upgrade, keyed "group\naddress:port": a
    // checked target starts from the verdict there instead of `initial`
    // (no new healthy_threshold wait, no new slow start). Emptied once lb
    // is ready, so a target added later starts afresh.
    std::unordered_map<std::string, CarriedTargetHealth> carried_health;

    RuntimeBuilder();
    ~RuntimeBuilder();

    // Compiles `config`; opens sockets for new listener addresses (errors if
    // an address cannot be bound), `workers` sockets per listener. With
    // bind_sockets false (lb -t) everything but the sockets is checked.
    // Certificates and CA files are read here, so a reload picks up changed
    // files and a bad one rejects the whole snapshot. `draining` targets are
    // appended to their groups (never picked: their TargetState says
    // draining) so they stay visible and shared. With `files_from`, built
    // from the same YAML, its TLS contexts and sticky signer are reused
    // instead of reading those files again (by listener and group name).
    Result<std::shared_ptr<const Runtime>> build(const conf::Config& config, int workers, bool bind_sockets = true,
                                                 std::span<const DrainingTarget> draining = {},
                                                 const Runtime* files_from = nullptr);
};

}  // namespace lb

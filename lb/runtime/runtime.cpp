#include "lb/runtime/runtime.h"

#include <algorithm>

#include "lb/base/log.h"
#include "lb/targets/health_state.h"
#include "lb/targets/sticky_cookie.h"
#include "tls/client_context.h"
#include "tls/server_context.h"
#include "tls/ticket_keys.h"

namespace lb {

namespace {

ListenSocketSet::Kind socket_kind(conf::ListenerProtocol protocol) {
    return protocol == conf::ListenerProtocol::udp ? ListenSocketSet::Kind::datagram
                                                   : ListenSocketSet::Kind::stream;
}

// Every cookie lb issues under `runtime`'s config, so none is forwarded to a
// target, whichever group a request goes to.
std::vector<std::string> lb_cookie_names(const Runtime& runtime) {
    std::vector<std::string> names;
    auto add = [&](std::string_view name) {
        if (!name.empty() && std::find(names.begin(), names.end(), name) == names.end()) names.emplace_back(name);
    };
    for (const auto& group : runtime.groups) add(group->sticky_cookie);
    for (const auto& listener : runtime.config.listeners) {
        if (listener.default_action.kind == conf::Action::Kind::forward && listener.default_action.forward.stickiness)
            add(kGroupStickyCookie);
        for (const auto& rule : listener.rules)
            if (rule.action.kind == conf::Action::Kind::forward && rule.action.forward.stickiness)
                add(kGroupStickyCookie);
    }
    return names;
}

}  // namespace

RuntimeBuilder::RuntimeBuilder() : ticket_keys(std::make_shared<tls::TicketKeys>()) {}
RuntimeBuilder::~RuntimeBuilder() = default;

Result<std::shared_ptr<const Runtime>> RuntimeBuilder::build(const conf::Config& config, int workers,
                                                             bool bind_sockets,
                                                             std::span<const DrainingTarget> draining,
                                                             const Runtime* files_from) {
    auto runtime = std::make_shared<Runtime>();
    runtime->generation = next_generation++;
    const bool first_build = runtime->generation == 1;
    runtime->config = config;
    runtime->workers = workers;

    if (files_from) {
        runtime->sticky_signer = files_from->sticky_signer;
    } else if (!config.global.sticky_secret_file.empty()) {
        auto signer = StickyCookieSigner::from_file(config.global.sticky_secret_file);
        if (!signer) return Error{config.global.pos.format(signer.error())};
        runtime->sticky_signer = *signer;
    } else {
        if (!random_signer) random_signer = StickyCookieSigner::random();
        runtime->sticky_signer = random_signer;
    }

    for (const auto& group_config : runtime->config.target_groups) {
        auto group = std::make_unique<TargetGroupRuntime>();
        group->index = static_cast<uint32_t>(runtime->groups.size());
        group->config = group_config;
        group->state = group_states.get_or_create(group_config.name);
        std::vector<BalancerTarget> balancer_targets;
        for (const auto& target : group_config.targets) {
            // A DNS name serves through the addresses lb/discovery put in
            // its place; one left here (lb -t, or not resolved) has none.
            if (target.is_name()) continue;
            bool created = false;
            auto state = targets.get_or_create(group_config.name, target.addr, &created);
            if (created) {
                // Not yet visible to any other thread: set how it starts (ALB:
                // a checked target gets traffic only once it passed checks).
                state->health.store(health::initial_health(group_config.health_check), std::memory_order_relaxed);
                const CarriedTargetHealth* verdict = nullptr;
                if (auto carried = carried_health.find(group_config.name + "\n" + state->key);
                    group_config.health_check.enabled && carried != carried_health.end() &&
                    carried->second.health != TargetHealth::initial && carried->second.health != TargetHealth::unused)
                    verdict = &carried->second;
                if (verdict) {
                    // The previous lb's verdict, and its slow start where it was.
                    state->health.store(verdict->health, std::memory_order_relaxed);
                    state->in_service_since_ms.store(verdict->in_service_since_ms, std::memory_order_relaxed);
                    if (verdict->health == TargetHealth::unhealthy)
                        state->set_reason("failing its checks when the previous lb handed over");
                } else if (group_config.health_check.enabled) {
                    state->set_reason("registration in progress");
                } else if (!first_build) {
                    // Unchecked, it serves at once; one added after start-up
                    // still ramps up under slow start (a checked one does
                    // when it turns healthy).
                    state->in_service_since_ms.store(steady_now_ms(), std::memory_order_relaxed);
                }
            }
            balancer_targets.push_back({state.get(), static_cast<uint32_t>(std::max(target.weight, 1)),
                                        target.addr.to_string()});
            group->targets.push_back({std::move(state), target});
            // A backup target is a tier below all others: picked only when
            // no other tier has a target that may serve.
            if (target.backup) group->targets.back().config.tier += kBackupTier;
        }
        for (const auto& leaving : draining) {
            if (leaving.group != group_config.name) continue;
            balancer_targets.push_back({leaving.state.get(), static_cast<uint32_t>(std::max(leaving.target.weight, 1)),
                                        leaving.state->key});
            group->targets.push_back({leaving.state, leaving.target});
        }
        for (const auto& entry : group->targets)
            group->tiered = group->tiered || entry.config.tier != group->targets.front().config.tier;
        // source_ip stickiness is Maglev hashing whatever the algorithm says.
        group->client_hashed = group_config.stickiness.type == conf::Stickiness::Type::source_ip ||
                               group_config.algorithm == conf::Algorithm::source_ip_hash ||
                               group_config.algorithm == conf::Algorithm::hash;
        group->balancer = make_balancer_factory(
            group->client_hashed ? conf::Algorithm::hash : group_config.algorithm,
            std::move(balancer_targets));
        group->sticky_cookie = target_sticky_cookie_name(group_config);
        group->sticky_scope = target_sticky_scope(group_config);
        std::vector<std::string> zones;
        for (uint32_t i = 0; i < group->targets.size(); ++i) {
            TargetEntry& entry = group->targets[i];
            entry.sticky_id = runtime->sticky_signer->target_id(entry.state->key);
            group->targets_by_sticky_id.emplace(entry.sticky_id, i);
            zones.push_back(entry.config.zone);
        }
        if (!group_config.cross_zone) {
            auto split = std::make_unique<const ZoneSplit>(zones, group_config.zone_weights);
            if (split->zone_count() > 1) group->zones = std::move(split);
        }
        const TargetGroupRuntime* previous_group = files_from ? files_from->group(group_config.name) : nullptr;
        if (previous_group && previous_group->tls) {
            group->tls = previous_group->tls;
        } else if (group_config.protocol == conf::TargetProtocol::https) {
            auto context = tls::ClientContext::create(group_config);
            if (!context) return Error{context.error()};
            group->tls = *context;
        }
        runtime->groups_by_name[group->config.name] = group.get();
        runtime->groups.push_back(std::move(group));
    }

    runtime->lb_cookie_names = lb_cookie_names(*runtime);
    if (!runtime->lb_cookie_names.empty() && runtime->sticky_signer == random_signer && !warned_random_signer) {
        warned_random_signer = true;
        LB_LOG_WARN("sticky cookies are signed with a random per-process key (global.sticky_secret_file is "
                    "not set): other lb instances, and this one after a restart, will not honour them");
    }

    for (const auto& listener_config : runtime->config.listeners) {
        auto listener = std::make_unique<ListenerRuntime>();
        listener->index = static_cast<uint32_t>(runtime->listeners.size());
        listener->config = listener_config;
        listener->state = listener_states.get_or_create(listener_config.name);
        // Made once per listener and kept by its state across reloads: the
        // connections its clients have open must stay counted.
        if (bind_sockets && listener_config.client_limits.any()) {
            if (!listener->state->client_limiter) listener->state->client_limiter = std::make_shared<ClientLimiter>();
            listener->client_limiter = listener->state->client_limiter;
        }
        if (bind_sockets) {
            auto sockets = this->sockets.get(listener_config.listen, socket_kind(listener_config.protocol), workers,
                                             &listener_config.tcp_keepalive);
            if (!sockets) return Error{listener_config.pos.format(sockets.error())};
            listener->sockets = *sockets;
        }
        auto rules = RuleSet::compile(listener->config.rules, listener->config.default_action);
        if (!rules) return Error{listener_config.pos.format(rules.error())};
        listener->rules = *rules;
        const ListenerRuntime* previous_listener = nullptr;
        if (files_from)
            for (const auto& candidate : files_from->listeners)
                if (candidate->config.name == listener_config.name) previous_listener = candidate.get();
        if (previous_listener && previous_listener->tls) {
            listener->tls = previous_listener->tls;
        } else if (listener_config.protocol == conf::ListenerProtocol::https && listener_config.tls) {
            auto context = tls::ServerContext::create(*listener_config.tls, ticket_keys,
                                                      listener_config.http2.mode == conf::Http2Mode::on);
            if (!context) return Error{context.error()};
            listener->tls = *context;
        }
        runtime->listeners.push_back(std::move(listener));
    }
    targets.collect();
    listener_states.collect();
    group_states.collect();
    return std::shared_ptr<const Runtime>(std::move(runtime));
}

}  // namespace lb

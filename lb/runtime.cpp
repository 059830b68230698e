#include "lb/runtime.h"

#include "health/health_state.h"
#include "lb/log.h"
#include "tls/client_context.h"
#include "tls/server_context.h"
#include "tls/ticket_keys.h"

namespace lb {

namespace {

ListenSocketSet::Kind socket_kind(conf::ListenerProtocol protocol) {
    return protocol == conf::ListenerProtocol::udp ? ListenSocketSet::Kind::datagram
                                                   : ListenSocketSet::Kind::stream;
}

}  // namespace

RuntimeBuilder::RuntimeBuilder() : ticket_keys(std::make_shared<tls::TicketKeys>()) {}
RuntimeBuilder::~RuntimeBuilder() = default;

Result<std::shared_ptr<const Runtime>> RuntimeBuilder::build(const conf::Config& config, int workers,
                                                             bool bind_sockets,
                                                             std::span<const DrainingTarget> draining) {
    auto runtime = std::make_shared<Runtime>();
    runtime->generation = next_generation++;
    runtime->config = config;
    runtime->workers = workers;

    if (!config.global.sticky_secret_file.empty()) {
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
        std::vector<BalancerTarget> balancer_targets;
        for (const auto& target : group_config.targets) {
            bool created = false;
            auto state = targets.get_or_create(group_config.name, target.addr, &created);
            if (created) {
                // Not yet visible to any other thread: set how it starts (ALB:
                // a checked target gets traffic only once it passed checks).
                state->health.store(health::initial_health(group_config.health_check), std::memory_order_relaxed);
                if (group_config.health_check.enabled) state->set_reason("registration in progress");
            }
            balancer_targets.push_back({state.get(), static_cast<uint32_t>(std::max(target.weight, 1)),
                                        target.addr.to_string()});
            group->targets.push_back({std::move(state), target});
        }
        for (const auto& leaving : draining) {
            if (leaving.group != group_config.name) continue;
            balancer_targets.push_back({leaving.state.get(), static_cast<uint32_t>(std::max(leaving.target.weight, 1)),
                                        leaving.state->key});
            group->targets.push_back({leaving.state, leaving.target});
        }
        group->balancer = make_balancer_factory(group_config.algorithm, std::move(balancer_targets));
        if (group_config.protocol == conf::TargetProtocol::https) {
            auto context = tls::ClientContext::create(group_config);
            if (!context) return Error{context.error()};
            group->tls = *context;
        }
        runtime->groups_by_name[group->config.name] = group.get();
        runtime->groups.push_back(std::move(group));
    }

    for (const auto& listener_config : runtime->config.listeners) {
        auto listener = std::make_unique<ListenerRuntime>();
        listener->index = static_cast<uint32_t>(runtime->listeners.size());
        listener->config = listener_config;
        if (bind_sockets) {
            auto sockets = this->sockets.get(listener_config.listen, socket_kind(listener_config.protocol), workers);
            if (!sockets) return Error{listener_config.pos.format(sockets.error())};
            listener->sockets = *sockets;
        }
        auto rules = RuleSet::compile(listener->config.rules, listener->config.default_action);
        if (!rules) return Error{listener_config.pos.format(rules.error())};
        listener->rules = *rules;
        if (listener_config.protocol == conf::ListenerProtocol::https && listener_config.tls) {
            auto context = tls::ServerContext::create(*listener_config.tls, ticket_keys);
            if (!context) return Error{context.error()};
            listener->tls = *context;
        }
        runtime->listeners.push_back(std::move(listener));
    }
    targets.collect();
    return std::shared_ptr<const Runtime>(std::move(runtime));
}

}  // namespace lb

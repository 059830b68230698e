// The admin API's routes: which method and path do what, the bearer-token
// check, and the JSON views of groups and targets. The server side (the
// listening socket, connections, limits and timeouts) is
// lb/control/admin_api.cpp; request bodies are parsed in admin_request.cpp.
#include <openssl/crypto.h>

#include <cmath>

#include "lb/control/admin_api.h"
#include "lb/control/dashboard_assets.h"
#include "lb/http/http_head.h"
#include "lb/http/percent_decode.h"
#include "lb/targets/slow_start.h"

namespace lb {

using nlohmann::json;

namespace {

std::vector<std::string> path_segments(std::string_view path) {
    std::vector<std::string> segments;
    size_t start = 1;  // skip the leading '/'
    while (start <= path.size()) {
        size_t end = path.find('/', start);
        if (end == std::string_view::npos) end = path.size();
        segments.push_back(percent_decode(path.substr(start, end - start)));
        start = end + 1;
    }
    if (!segments.empty() && segments.back().empty()) segments.pop_back();  // trailing '/'
    return segments;
}

json health_check_json(const conf::HealthCheck& check) {
    if (!check.enabled) return nullptr;
    json out;
    out["protocol"] = conf::to_string(check.protocol);
    if (check.protocol != conf::HealthCheck::Protocol::tcp) {
        out["path"] = check.path;
        out["matcher"] = check.matcher;
    }
    if (check.port) out["port"] = *check.port;
    else out["port"] = "traffic-port";
    out["interval_ms"] = check.interval.count();
    out["timeout_ms"] = check.timeout.count();
    out["healthy_threshold"] = check.healthy_threshold;
    out["unhealthy_threshold"] = check.unhealthy_threshold;
    return out;
}

}  // namespace

bool AdminApi::authorized(const HttpHead& request) const {
    if (token_.empty()) return true;
    auto header = request.header("authorization");
    if (!header) return false;
    std::string_view value = *header;
    constexpr std::string_view kScheme = "bearer ";
    if (value.size() <= kScheme.size() || !iequals(value.substr(0, kScheme.size()), kScheme)) return false;
    std::string_view presented = value.substr(kScheme.size());
    // Constant time in the token's content: no early exit on the first
    // wrong byte for an attacker to time.
    return presented.size() == token_.size() && CRYPTO_memcmp(presented.data(), token_.data(), token_.size()) == 0;
}

AdminApi::Reply AdminApi::handle(const HttpHead& request, const std::string& body) {
    TargetParts parts = split_request_target(request.url);
    std::vector<std::string> segments = path_segments(parts.path);
    const std::string& method = request.method;
    auto only = [&](const char* allowed) -> std::optional<Reply> {
        if (method == allowed || (std::string_view(allowed) == "GET" && method == "HEAD")) return std::nullopt;
        return Reply{405, error_json("method " + method + " not allowed here; use " + allowed),
                     std::string("Allow: ") + allowed + "\r\n"};
    };

    if (parts.path == "/healthz") {
        if (auto refused = only("GET")) return *refused;
        if (control_.stopping()) return {503, json{{"status", "stopping"}}};
        return {200, json{{"status", "ok"}, {"generation", control_.current_runtime()->generation}}};
    }
    // The dashboard's page, script and style: no data in them, so no token.
    if (const DashboardAsset* asset = find_dashboard_asset(parts.path)) {
        if (auto refused = only("GET")) return *refused;
        return dashboard_asset(*asset);
    }
    bool metrics = parts.path == "/metrics";
    if (!metrics && (segments.size() < 2 || segments[0] != "api" || segments[1] != "v1"))
        return {404, error_json("no such endpoint: " + std::string(parts.path))};
    if (!authorized(request))
        return {401, error_json("missing or wrong bearer token"), "WWW-Authenticate: Bearer realm=\"lb admin\"\r\n"};
    if (metrics) {
        if (auto refused = only("GET")) return *refused;
        return {prometheus_text(control_.stats(), *control_.current_runtime()), "text/plain; version=0.0.4"};
    }
    if (segments.size() == 3 && segments[2] == "stats") {
        if (auto refused = only("GET")) return *refused;
        return {200, stats_json(control_.stats(), *control_.current_runtime())};
    }

    if (segments.size() == 3 && segments[2] == "dashboard") {
        if (auto refused = only("GET")) return *refused;
        return dashboard();
    }
    if (segments.size() == 3 && segments[2] == "reload") {
        if (auto refused = only("POST")) return *refused;
        return reload();
    }
    if (segments.size() >= 3 && segments[2] == "target-groups") {
        if (segments.size() == 3) {
            if (auto refused = only("GET")) return *refused;
            return list_groups();
        }
        const std::string& group = segments[3];
        if (segments.size() == 4) {
            if (auto refused = only("GET")) return *refused;
            return show_group(group);
        }
        if (segments[4] == "targets" && segments.size() == 5) {
            if (auto refused = only("POST")) return *refused;
            return register_target(group, body);
        }
        if (segments[4] == "targets" && segments.size() == 6) {
            if (auto refused = only("DELETE")) return *refused;
            return deregister_target(group, segments[5]);
        }
    }
    return {404, error_json("no such endpoint: " + std::string(parts.path))};
}

AdminApi::Reply AdminApi::list_groups() const {
    auto runtime = control_.current_runtime();
    json groups = json::array();
    for (const auto& group : runtime->groups) groups.push_back(group_json(*group, false));
    return {200, json{{"generation", runtime->generation}, {"target_groups", std::move(groups)}}};
}

AdminApi::Reply AdminApi::show_group(const std::string& name) const {
    auto runtime = control_.current_runtime();
    const TargetGroupRuntime* group = runtime->group(name);
    if (!group) return {404, error_json("no target group '" + name + "'")};
    return {200, group_json(*group, true)};
}

AdminApi::Reply AdminApi::register_target(const std::string& group, const std::string& body) {
    if (!control_.current_runtime()->group(group)) return {404, error_json("no target group '" + group + "'")};
    auto parsed = parse_target_registration(body);
    if (!parsed) return {400, error_json(parsed.error())};
    TargetRegistration registration = std::move(*parsed);
    SocketAddress key = registration.target.addr;

    AdminOutcome outcome = control_.register_target(group, std::move(registration));
    if (outcome.status >= 300) return {outcome.status, error_json(outcome.error)};
    auto runtime = control_.current_runtime();
    const TargetGroupRuntime* group_runtime = runtime->group(group);
    for (const auto& entry : group_runtime->targets)
        if (entry.config.addr == key) return {outcome.status, target_json(*group_runtime, entry)};
    return {500, error_json("registered, but missing from the new snapshot")};
}

AdminApi::Reply AdminApi::deregister_target(const std::string& group, const std::string& target) {
    if (!control_.current_runtime()->group(group)) return {404, error_json("no target group '" + group + "'")};
    auto address = parse_target_id(target);
    if (!address) return {400, error_json(address.error())};
    AdminOutcome outcome = control_.deregister_target(group, *address);
    if (outcome.status >= 300) return {outcome.status, error_json(outcome.error)};
    auto runtime = control_.current_runtime();
    const TargetGroupRuntime* group_runtime = runtime->group(group);
    if (group_runtime) {
        for (const auto& entry : group_runtime->targets)
            if (entry.config.addr == *address) return {outcome.status, target_json(*group_runtime, entry)};
    }
    // Not drained (unhealthy or no delay) and already dropped.
    return {outcome.status, json{{"id", address->to_string()}, {"state", "removed"}}};
}

AdminApi::Reply AdminApi::reload() {
    if (control_.stopping()) return {503, error_json("lb is stopping")};
    auto generation = control_.reload_config();
    if (!generation) return {400, error_json(generation.error())};
    return {200, json{{"generation", *generation}}};
}

// ---------------------------------------------------------------- views

json AdminApi::group_json(const TargetGroupRuntime& group, bool with_targets) const {
    const conf::TargetGroup& config = group.config;
    json counts = {{"total", group.targets.size()}, {"healthy", 0},  {"unhealthy", 0},
                   {"initial", 0},                  {"unused", 0},   {"draining", 0}};
    for (const auto& entry : group.targets) {
        json& count = counts[entry.state->state_name()];
        count = count.get<int>() + 1;
    }
    json out = {{"name", config.name},
                {"protocol", conf::to_string(config.protocol)},
                {"algorithm", conf::to_string(config.algorithm)},
                {"deregistration_delay_ms", config.deregistration_delay.count()},
                {"health_check", health_check_json(config.health_check)},
                {"target_counts", std::move(counts)}};
    std::vector<DnsDiscovery::NameStatus> discovered;
    if (control_.discovery()) discovered = control_.discovery()->names_of(config.name);
    if (!discovered.empty()) {
        json names = json::array();
        for (const auto& name : discovered) {
            json entry = {{"name", name.name},
                          {"type", name.kind == DnsDiscovery::Kind::srv ? "SRV" : "A/AAAA"},
                          {"resolved", name.resolved},
                          {"answer", name.answer},
                          {"last_error", name.last_error}};
            if (name.resolved_unix_ms) entry["resolved_at_unix_ms"] = name.resolved_unix_ms;
            if (name.next_lookup_unix_ms) entry["next_lookup_unix_ms"] = name.next_lookup_unix_ms;
            names.push_back(std::move(entry));
        }
        out["discovery"] = std::move(names);
    }
    if (with_targets) {
        json targets = json::array();
        for (const auto& entry : group.targets) targets.push_back(target_json(group, entry));
        out["targets"] = std::move(targets);
    }
    return out;
}

json AdminApi::target_json(const TargetGroupRuntime& group, const TargetEntry& entry) const {
    const TargetState& state = *entry.state;
    bool draining = state.draining.load(std::memory_order_relaxed);
    TargetHealth health = state.health.load(std::memory_order_relaxed);
    std::string reason;
    if (draining) reason = "deregistration in progress";
    else if (health == TargetHealth::unused) reason = "health checks are disabled for this group";
    else reason = state.reason();
    json out = {{"id", state.key},
                {"address", entry.config.addr.ip_string()},
                {"port", entry.config.addr.port()},
                {"weight", entry.config.weight},
                {"zone", entry.config.zone},
                {"source", entry.config.discovered_by.empty()
                               ? to_string(control_.target_source(group.config.name, entry.config.addr))
                               : "dns"},
                {"state", state.state_name()},
                {"health", to_string(health)},
                {"reason", reason},
                {"in_flight", state.outstanding_requests.load(std::memory_order_relaxed)},
                {"active_connections", state.active_connections.load(std::memory_order_relaxed)},
                {"counters",
                 {{"requests", state.requests_total.load(std::memory_order_relaxed)},
                  {"connections", state.connections_total.load(std::memory_order_relaxed)},
                  {"connect_failures", state.connect_failures.load(std::memory_order_relaxed)},
                  {"responses_5xx", state.responses_5xx.load(std::memory_order_relaxed)},
                  {"retries", state.retries.load(std::memory_order_relaxed)}}}};
    if (!entry.config.discovered_by.empty()) out["discovered_by"] = entry.config.discovered_by;
    if (entry.config.backup) out["backup"] = true;
    if (state.passive_out()) {
        int64_t left = state.passive_out_until_ms.load(std::memory_order_relaxed) - steady_now_ms();
        out["passive_out_ms"] = left > 0 ? left : 0;
    }
    if (draining) {
        int64_t left = state.drain_deadline_ms.load(std::memory_order_relaxed) - steady_now_ms();
        out["drain_remaining_ms"] = left > 0 ? left : 0;
    }
    double share = slow_start_share(state, steady_now_ms(), group.config.slow_start.count());
    if (!draining && state.routable() && share < 1.0) out["slow_start_share"] = std::round(share * 100) / 100;
    return out;
}

}  // namespace lb

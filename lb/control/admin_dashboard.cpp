// The admin API's dashboard: its static files (lb/control/dashboard/,
// embedded by tools/embed_assets) and GET /api/v1/dashboard, the one
// answer the page polls each second. Groups and targets are the same JSON
// as GET /api/v1/target-groups/{name} (admin_routes.cpp), with the rates
// of the last second from DashboardHistory added.
#include <chrono>
#include <cmath>

#include "lb/control/admin_api.h"
#include "lb/control/dashboard_assets.h"

namespace lb {

using nlohmann::json;

namespace {

// The page runs only its own script and style, from this origin; it may
// not be framed; its data comes from this origin's API.
constexpr const char* kAssetHeaders =
    "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "X-Frame-Options: DENY\r\n"
    "Referrer-Policy: no-referrer\r\n"
    "Cache-Control: no-store\r\n";

double rounded(double value, double step) { return std::round(value / step) * step; }

// µs, or null when nothing finished in the interval.
json latency(double us) { return us < 0 ? json(nullptr) : json(std::llround(us)); }

void add_rates(json& out, const DashboardHistory::Rates* rates) {
    DashboardHistory::Rates none;
    const DashboardHistory::Rates& r = rates ? *rates : none;
    out["requests_per_s"] = rounded(r.requests_per_s, 0.01);
    out["errors_per_s"] = rounded(r.errors_per_s, 0.01);
    out["p50_us"] = latency(r.p50_us);
    out["p99_us"] = latency(r.p99_us);
}

// Columns rather than rows: a third of the bytes for 300 points.
json series_json(const DashboardHistory::Series* series) {
    json t = json::array(), requests = json::array(), errors = json::array(), p99 = json::array();
    if (series) {
        for (const auto& point : *series) {
            t.push_back(point.unix_ms);
            requests.push_back(rounded(point.rates.requests_per_s, 0.01));
            errors.push_back(rounded(point.rates.errors_per_s, 0.01));
            p99.push_back(latency(point.rates.p99_us));
        }
    }
    return {{"t", std::move(t)}, {"requests_per_s", std::move(requests)}, {"errors_per_s", std::move(errors)},
            {"p99_us", std::move(p99)}};
}

int64_t unix_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

AdminApi::Reply AdminApi::dashboard_asset(const DashboardAsset& asset) {
    Reply reply(std::string(asset.body), asset.content_type.data());
    reply.extra_headers = kAssetHeaders;
    return reply;
}

AdminApi::Reply AdminApi::dashboard() const {
    auto runtime = control_.current_runtime();
    const DashboardHistory& history = control_.dashboard_history();
    ServerStats stats = control_.stats();
    int64_t now_ms = unix_ms();

    json last_reload = nullptr;
    if (stats.last_reload_unix_ms) {
        last_reload = {{"unix_ms", stats.last_reload_unix_ms},
                       {"result", stats.last_reload_accepted ? "accepted" : "rejected"}};
        if (!stats.last_reload_accepted) last_reload["error"] = stats.last_reload_error;
    }
    json instance = {{"version", LB_VERSION},
                     {"zone", stats.zone},
                     {"workers", stats.workers},
                     {"generation", stats.generation},
                     {"started_unix_s", stats.started_unix_s},
                     {"uptime_s", stats.started_unix_s ? now_ms / 1000 - stats.started_unix_s : 0},
                     {"connections_open", stats.connections_open},
                     {"reloads", {{"accepted", stats.reloads}, {"rejected", stats.reloads_rejected}}},
                     {"last_reload", std::move(last_reload)}};

    json listeners = json::array();
    for (const auto& listener : runtime->listeners) {
        const DashboardHistory::ListenerRates* rates = history.listener_rates(listener->config.name);
        listeners.push_back({{"name", listener->config.name},
                             {"protocol", conf::to_string(listener->config.protocol)},
                             {"listen", listener->config.listen.to_string()},
                             {"connections_open", listener->state->connections.load(std::memory_order_relaxed)},
                             {"requests_per_s", rates ? rounded(rates->requests_per_s, 0.01) : 0.0},
                             {"tls_handshakes_per_s", rates ? rounded(rates->tls_handshakes_per_s, 0.01) : 0.0}});
    }

    json groups = json::array();
    for (const auto& group : runtime->groups) {
        const std::string& name = group->config.name;
        json out = group_json(*group, true);
        for (size_t i = 0; i < group->targets.size(); ++i)
            add_rates(out["targets"][i], history.target_rates(name, group->targets[i].state->key));
        add_rates(out, history.group_rates(name));
        out["series"] = series_json(history.group_series(name));
        groups.push_back(std::move(out));
    }

    json lb = {{"series", series_json(&history.lb_series())}};
    add_rates(lb, history.samples() > 1 ? &history.lb_rates() : nullptr);
    json body = {{"now_unix_ms", now_ms},
                 {"interval_ms", DashboardHistory::kIntervalMs},
                 {"points", DashboardHistory::kPoints},
                 {"instance", std::move(instance)},
                 {"lb", std::move(lb)},
                 {"listeners", std::move(listeners)},
                 {"target_groups", std::move(groups)}};
    return {200, std::move(body), "Cache-Control: no-store\r\n"};
}

}  // namespace lb

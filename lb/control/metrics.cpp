#include "lb/control/metrics.h"

#include <charconv>

#include "lb/worker/worker.h"

namespace lb {

namespace {

using nlohmann::json;

constexpr const char* kStatusClasses[] = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};
constexpr TargetHealth kHealthStates[] = {TargetHealth::initial, TargetHealth::healthy, TargetHealth::unhealthy,
                                          TargetHealth::unused};

// A label value in the text format: backslash, double quote and newline escaped.
std::string label_value(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        if (c == '\\') out += "\\\\";
        else if (c == '"') out += "\\\"";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

class PrometheusWriter {
public:
    // One metric family: its HELP and TYPE lines, then samples.
    void family(const char* name, const char* type, const char* help) {
        name_ = name;
        out_ += "# HELP ";
        out_ += name;
        out_ += ' ';
        out_ += help;
        out_ += "\n# TYPE ";
        out_ += name;
        out_ += ' ';
        out_ += type;
        out_ += '\n';
    }
    // labels: "k=\"v\",k2=\"v2\"" already escaped, or empty.
    template <typename Number>
    void sample(const std::string& labels, Number value) {
        line("", labels, std::to_string(value));
    }
    // One histogram's _bucket (cumulative, `le` in the family's unit), _sum
    // and _count samples. `divisor` turns the observed integers into the
    // unit (1e6 for µs as seconds, 1 for bytes; a division, so 100000 µs
    // reads 0.1, not 0.09999999999999999).
    void histogram(const std::string& labels, const HistogramCounts& counts, double divisor) {
        std::string prefix = labels.empty() ? std::string() : labels + ",";
        uint64_t cumulative = 0;
        for (size_t i = 0; i < counts.buckets.size(); ++i) {
            cumulative += counts.buckets[i];
            std::string le = i < counts.bounds.size() ? number(static_cast<double>(counts.bounds[i]) / divisor) : "+Inf";
            line("_bucket", prefix + "le=\"" + le + "\"", std::to_string(cumulative));
        }
        line("_sum", labels, number(static_cast<double>(counts.sum) / divisor));
        line("_count", labels, std::to_string(cumulative));
    }
    std::string take() { return std::move(out_); }

private:
    void line(const char* suffix, const std::string& labels, const std::string& value) {
        out_ += name_;
        out_ += suffix;
        if (!labels.empty()) {
            out_ += '{';
            out_ += labels;
            out_ += '}';
        }
        out_ += ' ';
        out_ += value;
        out_ += '\n';
    }
    // The shortest text that reads back as the same double, without an
    // exponent (0.0001, not 1e-04).
    static std::string number(double value) {
        char buffer[400];  // fixed notation of any double fits
        auto result = std::to_chars(buffer, buffer + sizeof(buffer), value, std::chars_format::fixed);
        return std::string(buffer, result.ptr);
    }

    std::string out_;
    const char* name_ = "";
};

std::string target_labels(const TargetGroupRuntime& group, const TargetState& state) {
    return "target_group=\"" + label_value(group.config.name) + "\",target=\"" + label_value(state.key) + "\"";
}

std::string listener_label(const ListenerRuntime& listener) {
    return "listener=\"" + label_value(listener.config.name) + "\"";
}

bool is_udp(const ListenerRuntime& listener) { return listener.config.protocol == conf::ListenerProtocol::udp; }
bool is_http(const ListenerRuntime& listener) {
    return listener.config.protocol == conf::ListenerProtocol::http ||
           listener.config.protocol == conf::ListenerProtocol::https;
}

// The five HTTP histograms, each a family named prefix + suffix, with one
// histogram per listener or group.
struct HttpHistogramFamily {
    const char* suffix;
    const char* help;
    const Histogram HttpHistograms::*histogram;
    double divisor;
};
constexpr HttpHistogramFamily kHttpHistogramFamilies[] = {
    {"_http_request_duration_seconds",
     "Time from a request's first byte to the end of its answer (lb's own answers included).",
     &HttpHistograms::duration, 1e6},
    {"_http_connect_duration_seconds",
     "Time to open a new connection to a target (TCP, and TLS for https targets); pooled connections are not "
     "counted.",
     &HttpHistograms::connect, 1e6},
    {"_http_first_byte_seconds", "Time from a request's first byte to the target's first response byte.",
     &HttpHistograms::first_byte, 1e6},
    {"_http_request_size_bytes", "Request body bytes received from the client.", &HttpHistograms::request_size, 1},
    {"_http_response_size_bytes", "Response body bytes sent to the client.", &HttpHistograms::response_size, 1},
};

uint64_t read(const std::atomic<uint64_t>& counter) { return counter.load(std::memory_order_relaxed); }
int64_t read(const std::atomic<int64_t>& gauge) { return gauge.load(std::memory_order_relaxed); }

// Per listener, from its ListenerState: stream listeners have connections,
// udp listeners flows.
json listener_json(const ListenerRuntime& listener) {
    const ListenerState& state = *listener.state;
    json out = {{"name", listener.config.name},
                {"protocol", conf::to_string(listener.config.protocol)},
                {"listen", listener.config.listen.to_string()}};
    if (is_udp(listener)) {
        out["flows"] = {{"open", read(state.udp_flows)},
                        {"created", read(state.udp_flows_created)},
                        {"evicted", read(state.udp_flows_evicted)},
                        {"expired", read(state.udp_flows_expired)},
                        {"failed", read(state.udp_flows_failed)},
                        {"target_refused", read(state.udp_target_refused)}};
    } else {
        out["connections"] = {{"open", read(state.connections)},
                              {"refused_max_connections", read(state.refused_max_connections)},
                              {"proxy_header_invalid", read(state.proxy_header_invalid)},
                              {"proxy_header_untrusted", read(state.proxy_header_untrusted)}};
        out["client_limited"] = {{"connections", read(state.client_limited_connections)},
                                 {"connection_rate", read(state.client_limited_connection_rate)},
                                 {"request_rate", read(state.client_limited_request_rate)},
                                 {"limiter_full", read(state.client_limiter_full)}};
    }
    return out;
}

}  // namespace

void ServerStats::add(const WorkerCounters& counters) {
    auto read = [](const auto& counter) { return counter.load(std::memory_order_relaxed); };
    connections_accepted += read(counters.connections_accepted);
    connections_refused_allow += read(counters.connections_refused_allow);
    connections_refused_limit += read(counters.connections_refused_limit);
    connections_open += read(counters.connections_open);
    requests += read(counters.requests);
    responses_local += read(counters.responses_local);
    for (size_t i = 0; i < responses_by_class.size(); ++i) responses_by_class[i] += read(counters.responses_by_class[i]);
}

json stats_json(const ServerStats& stats, const Runtime& runtime) {
    json responses = json::object();
    for (size_t i = 0; i < stats.responses_by_class.size(); ++i) responses[kStatusClasses[i]] = stats.responses_by_class[i];
    json groups = json::array();
    for (const auto& group : runtime.groups) {
        uint64_t requests = 0, connections = 0, connect_failures = 0, responses_5xx = 0;
        int64_t in_flight = 0, active_connections = 0;
        for (const auto& entry : group->targets) {
            const TargetState& state = *entry.state;
            requests += state.requests_total.load(std::memory_order_relaxed);
            connections += state.connections_total.load(std::memory_order_relaxed);
            connect_failures += state.connect_failures.load(std::memory_order_relaxed);
            responses_5xx += state.responses_5xx.load(std::memory_order_relaxed);
            in_flight += state.outstanding_requests.load(std::memory_order_relaxed);
            active_connections += state.active_connections.load(std::memory_order_relaxed);
        }
        groups.push_back(json{{"name", group->config.name},
                              {"requests", requests},
                              {"connections", connections},
                              {"connect_failures", connect_failures},
                              {"responses_5xx", responses_5xx},
                              {"in_flight", in_flight},
                              {"active_connections", active_connections}});
    }
    json listeners = json::array();
    for (const auto& listener : runtime.listeners) listeners.push_back(listener_json(*listener));
    return json{{"version", LB_VERSION},
                {"zone", stats.zone},
                {"generation", stats.generation},
                {"started_unix_s", stats.started_unix_s},
                {"workers", stats.workers},
                {"reloads", {{"accepted", stats.reloads}, {"rejected", stats.reloads_rejected}}},
                {"dns", {{"answered", stats.dns_answered}, {"failed", stats.dns_failures}, {"changes", stats.dns_changes}}},
                {"connections",
                 {{"accepted", stats.connections_accepted},
                  {"refused_allow", stats.connections_refused_allow},
                  {"refused_limit", stats.connections_refused_limit},
                  {"open", stats.connections_open}}},
                {"requests", stats.requests},
                {"responses_local", stats.responses_local},
                {"responses", std::move(responses)},
                {"listeners", std::move(listeners)},
                {"target_groups", std::move(groups)}};
}

std::string prometheus_text(const ServerStats& stats, const Runtime& runtime) {
    PrometheusWriter out;
    out.family("lb_info", "gauge", "Always 1; the labels say which lb runs and where (global.zone).");
    out.sample("version=\"" + label_value(LB_VERSION) + "\",zone=\"" + label_value(stats.zone) + "\"", 1);
    out.family("lb_config_generation", "gauge", "Generation of the config snapshot now serving (1 at start).");
    out.sample("", stats.generation);
    out.family("lb_start_time_seconds", "gauge", "When lb started, Unix time.");
    out.sample("", stats.started_unix_s);
    out.family("lb_workers", "gauge", "Worker threads (one io_uring each).");
    out.sample("", stats.workers);
    out.family("lb_reloads_total", "counter", "Config reloads since start, by result.");
    out.sample("result=\"accepted\"", stats.reloads);
    out.sample("result=\"rejected\"", stats.reloads_rejected);
    out.family("lb_dns_lookups_total", "counter",
               "DNS lookups of target names and SRV records, by result (failed: no answer, an error, or no such "
               "name).");
    out.sample("result=\"ok\"", stats.dns_answered);
    out.sample("result=\"failed\"", stats.dns_failures);
    out.family("lb_dns_changes_total", "counter", "DNS answers that changed a name's addresses or SRV records.");
    out.sample("", stats.dns_changes);
    out.family("lb_connections_accepted_total", "counter", "Client connections accepted on every listener.");
    out.sample("", stats.connections_accepted);
    out.family("lb_connections_refused_total", "counter",
               "Client connections closed at accept: source not in the listener's allow list, or over "
               "global.max_connections.");
    out.sample("reason=\"allow\"", stats.connections_refused_allow);
    out.sample("reason=\"limit\"", stats.connections_refused_limit);
    out.family("lb_connections_open", "gauge", "Client connections open now.");
    out.sample("", stats.connections_open);
    out.family("lb_http_requests_total", "counter", "HTTP requests received.");
    out.sample("", stats.requests);
    out.family("lb_http_responses_total", "counter",
               "HTTP exchanges finished, by the status class sent to the client (none: the client left first).");
    for (size_t i = 0; i < stats.responses_by_class.size(); ++i)
        out.sample(std::string("code=\"") + kStatusClasses[i] + "\"", stats.responses_by_class[i]);
    out.family("lb_http_local_responses_total", "counter",
               "HTTP responses lb answered itself (fixed_response, redirect, errors).");
    out.sample("", stats.responses_local);

    // A family is written only when some listener has samples for it.
    bool any_stream = false, any_udp = false;
    for (const auto& listener : runtime.listeners) (is_udp(*listener) ? any_udp : any_stream) = true;
    if (any_stream) {
        out.family("lb_listener_connections_open", "gauge",
                   "Client connections open now on a stream listener (what its max_connections limits).");
        for (const auto& listener : runtime.listeners)
            if (!is_udp(*listener)) out.sample(listener_label(*listener), read(listener->state->connections));
        out.family("lb_listener_connections_refused_total", "counter",
                   "Client connections a listener closed: over its max_connections (max_connections), a trusted "
                   "proxy's missing, malformed or late PROXY header (proxy_header_invalid), a PROXY header from "
                   "outside trusted_proxies (proxy_header_untrusted).");
        for (const auto& listener : runtime.listeners) {
            if (is_udp(*listener)) continue;
            const ListenerState& state = *listener->state;
            std::string labels = listener_label(*listener);
            out.sample(labels + ",reason=\"max_connections\"", read(state.refused_max_connections));
            out.sample(labels + ",reason=\"proxy_header_invalid\"", read(state.proxy_header_invalid));
            out.sample(labels + ",reason=\"proxy_header_untrusted\"", read(state.proxy_header_untrusted));
        }
        out.family("lb_listener_client_limited_total", "counter",
                   "What a listener's client_limits turned away: connections over a client's open connections "
                   "(connections), new connections over its connection_rate (connection_rate), requests over its "
                   "request_rate (request_rate).");
        for (const auto& listener : runtime.listeners) {
            if (is_udp(*listener)) continue;
            const ListenerState& state = *listener->state;
            std::string labels = listener_label(*listener);
            out.sample(labels + ",reason=\"connections\"", read(state.client_limited_connections));
            out.sample(labels + ",reason=\"connection_rate\"", read(state.client_limited_connection_rate));
            out.sample(labels + ",reason=\"request_rate\"", read(state.client_limited_request_rate));
        }
        out.family("lb_listener_client_limiter_full_total", "counter",
                   "Connections and requests let through uncounted because the listener's client limiter had no "
                   "room for one more client.");
        for (const auto& listener : runtime.listeners)
            if (!is_udp(*listener)) out.sample(listener_label(*listener), read(listener->state->client_limiter_full));
    }
    if (any_udp) {
        out.family("lb_udp_flows_open", "gauge", "UDP flows (client address:port) open now on a udp listener.");
        for (const auto& listener : runtime.listeners)
            if (is_udp(*listener)) out.sample(listener_label(*listener), read(listener->state->udp_flows));
        out.family("lb_udp_flows_total", "counter",
                   "UDP flows a udp listener created, evicted for udp.max_flows, expired after "
                   "udp.idle_timeout, and could not open (no local socket).");
        for (const auto& listener : runtime.listeners) {
            if (!is_udp(*listener)) continue;
            const ListenerState& state = *listener->state;
            std::string labels = listener_label(*listener);
            out.sample(labels + ",event=\"created\"", read(state.udp_flows_created));
            out.sample(labels + ",event=\"evicted\"", read(state.udp_flows_evicted));
            out.sample(labels + ",event=\"expired\"", read(state.udp_flows_expired));
            out.sample(labels + ",event=\"failed\"", read(state.udp_flows_failed));
        }
        out.family("lb_udp_target_refused_total", "counter",
                   "ICMP unreachable from a target on a UDP flow; the flow's next datagram picks another "
                   "target.");
        for (const auto& listener : runtime.listeners)
            if (is_udp(*listener)) out.sample(listener_label(*listener), read(listener->state->udp_target_refused));
    }

    std::vector<const ListenerRuntime*> http_listeners, tls_listeners;
    for (const auto& listener : runtime.listeners) {
        if (is_http(*listener)) http_listeners.push_back(listener.get());
        if (listener->config.protocol == conf::ListenerProtocol::https) tls_listeners.push_back(listener.get());
    }
    for (const auto& family : kHttpHistogramFamilies) {
        if (!http_listeners.empty()) {
            std::string name = std::string("lb_listener") + family.suffix;
            out.family(name.c_str(), "histogram", family.help);
            for (const ListenerRuntime* listener : http_listeners)
                out.histogram(listener_label(*listener), (listener->state->http.*family.histogram).read(),
                              family.divisor);
        }
        if (!runtime.groups.empty()) {
            std::string name = std::string("lb_target_group") + family.suffix;
            out.family(name.c_str(), "histogram", family.help);
            for (const auto& group : runtime.groups)
                out.histogram("target_group=\"" + label_value(group->config.name) + "\"",
                              (group->state->http.*family.histogram).read(), family.divisor);
        }
    }
    if (!tls_listeners.empty()) {
        out.family("lb_listener_tls_handshakes_total", "counter",
                   "TLS handshakes an https listener completed, by protocol version.");
        for (const ListenerRuntime* listener : tls_listeners) {
            const auto& counters = listener->state->tls_handshakes;
            for (size_t i = 0; i < counters.completed.size(); ++i)
                out.sample(listener_label(*listener) + ",version=\"" + tls::HandshakeCounters::kVersions[i] + "\"",
                           read(counters.completed[i]));
        }
        out.family("lb_listener_tls_resumed_total", "counter",
                   "TLS handshakes that resumed a session (ticket or session cache).");
        for (const ListenerRuntime* listener : tls_listeners)
            out.sample(listener_label(*listener), read(listener->state->tls_handshakes.resumed));
        out.family("lb_listener_tls_handshake_failures_total", "counter",
                   "TLS handshakes that ended before completing: an alert or bad record (protocol), the handshake "
                   "timeout (timeout), the client closing (closed).");
        for (const ListenerRuntime* listener : tls_listeners) {
            const auto& counters = listener->state->tls_handshakes;
            std::string labels = listener_label(*listener);
            out.sample(labels + ",reason=\"protocol\"", read(counters.failed_protocol));
            out.sample(labels + ",reason=\"timeout\"", read(counters.failed_timeout));
            out.sample(labels + ",reason=\"closed\"", read(counters.failed_closed));
        }
    }

    out.family("lb_target_state", "gauge",
               "1 for the state each target is in (initial, healthy, unhealthy, unused, draining).");
    for (const auto& group : runtime.groups)
        for (const auto& entry : group->targets) {
            std::string labels = target_labels(*group, *entry.state);
            std::string_view current = entry.state->state_name();
            for (TargetHealth health : kHealthStates)
                out.sample(labels + ",state=\"" + to_string(health) + "\"", current == to_string(health) ? 1 : 0);
            out.sample(labels + ",state=\"draining\"", current == "draining" ? 1 : 0);
        }
    struct TargetFamily {
        const char* name;
        const char* type;
        const char* help;
        int64_t (*read)(const TargetState&);
    };
    static constexpr TargetFamily kTargetFamilies[] = {
        {"lb_target_requests_total", "counter", "Requests sent to the target.",
         [](const TargetState& s) { return static_cast<int64_t>(s.requests_total.load(std::memory_order_relaxed)); }},
        {"lb_target_connections_total", "counter", "Connections opened to the target.",
         [](const TargetState& s) {
             return static_cast<int64_t>(s.connections_total.load(std::memory_order_relaxed));
         }},
        {"lb_target_connect_failures_total", "counter", "Connects to the target refused, timed out or failed TLS.",
         [](const TargetState& s) {
             return static_cast<int64_t>(s.connect_failures.load(std::memory_order_relaxed));
         }},
        {"lb_target_responses_5xx_total", "counter", "5xx responses the target sent.",
         [](const TargetState& s) { return static_cast<int64_t>(s.responses_5xx.load(std::memory_order_relaxed)); }},
        {"lb_target_retries_total", "counter", "Requests sent on to another target after a try here failed.",
         [](const TargetState& s) { return static_cast<int64_t>(s.retries.load(std::memory_order_relaxed)); }},
        {"lb_target_passive_out", "gauge", "1 while passive_health keeps the target out of rotation.",
         [](const TargetState& s) { return static_cast<int64_t>(s.passive_out()); }},
        {"lb_target_in_flight_requests", "gauge", "Requests waiting on the target now.",
         [](const TargetState& s) { return s.outstanding_requests.load(std::memory_order_relaxed); }},
        {"lb_target_active_connections", "gauge", "Tunnels (WebSocket, TCP) open to the target now.",
         [](const TargetState& s) { return s.active_connections.load(std::memory_order_relaxed); }},
    };
    for (const auto& family : kTargetFamilies) {
        out.family(family.name, family.type, family.help);
        for (const auto& group : runtime.groups)
            for (const auto& entry : group->targets)
                out.sample(target_labels(*group, *entry.state), family.read(*entry.state));
    }
    return out.take();
}

}  // namespace lb

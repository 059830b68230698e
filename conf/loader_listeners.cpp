// `listeners`: each listener and its TLS block; rules are loader_rules.cpp.
#include "conf/loader.h"

#include <climits>

#include "conf/patterns.h"
#include "conf/units.h"
#include "lb/base/ascii.h"

namespace lb::conf {

namespace {

bool is_unspecified(const SocketAddress& address) {
    auto bytes = address.ip_bytes();
    size_t from = address.family() == AF_INET ? 12 : 0;  // IPv4 is stored mapped
    return std::all_of(bytes.begin() + static_cast<long>(from), bytes.end(), [](uint8_t b) { return b == 0; });
}

// Would both sockets claim the same packets? A wildcard bind covers every
// address of its family. [::] is taken as IPv6-only (as nginx binds it), so
// "0.0.0.0:80" plus "[::]:80" is the usual dual-stack pair, not a clash.
bool overlaps(const SocketAddress& a, const SocketAddress& b) {
    if (a.port() != b.port() || a.family() != b.family()) return false;
    return a == b || is_unspecified(a) || is_unspecified(b);
}

}  // namespace

Listener Loader::load_listener(const YamlValue& value) {
    YamlMapping map(value, {"name", "protocol", "listen", "idle_timeout", "header_timeout", "tunnel_idle_timeout",
                            "max_header_size", "max_body_size", "max_connections", "allow", "rules", "default_action",
                            "tls", "proxy_protocol", "accept_proxy_protocol", "trusted_proxies", "tcp_keepalive",
                            "udp", "path_normalization", "client_limits", "http2", "http2_limits", "request_headers",
                            "response_headers", "request_id", "trace_context"});
    Listener listener;
    listener.pos = value.pos();

    auto name = map.require("name");
    listener.name = name.string();
    check(name, check_object_name(listener.name));
    for (const auto& other : config_.listeners)
        if (other.name == listener.name)
            name.fail("listener '" + listener.name + "' is already defined at line " + std::to_string(other.pos.line));

    if (auto protocol = map.get("protocol"))
        listener.protocol = choose(*protocol, kListenerProtocolNames);
    const ListenerProtocol protocol = listener.protocol;
    const std::string protocol_name = to_string(protocol);
    const bool udp = protocol == ListenerProtocol::udp;

    auto listen = map.require("listen");
    listener.listen = listen_address(listen);
    // A UDP and a stream socket may share an address; two of a kind may not.
    for (const auto& other : config_.listeners) {
        if ((other.protocol == ListenerProtocol::udp) != udp || !overlaps(other.listen, listener.listen)) continue;
        std::string where = "listener '" + other.name + "' (line " + std::to_string(other.pos.line) + ")";
        if (other.listen == listener.listen)
            listen.fail(listener.listen.to_string() + " is already used by " + where);
        listen.fail(listener.listen.to_string() + " overlaps " + other.listen.to_string() + " of " + where);
    }
    const Admin& admin = config_.global.admin;
    if (!udp && admin.enabled && overlaps(admin.listen, listener.listen))
        listen.fail(listener.listen.to_string() + " overlaps the admin address " + admin.listen.to_string());

    // Keys that exist in the schema but mean nothing for this protocol are
    // errors, so nobody believes a setting is in force when it is not.
    // The PROXY header is read first on any stream listener, so it needs a
    // time limit even where no other header exists.
    if (auto accept = map.get("accept_proxy_protocol")) listener.accept_proxy_protocol = accept->boolean();
    if (!is_http(protocol) && protocol != ListenerProtocol::tls_passthrough && !listener.accept_proxy_protocol)
        map.reject("header_timeout", "header_timeout only applies to http, https and tls_passthrough listeners "
                                     "(and tcp listeners with accept_proxy_protocol: true)");
    if (!is_http(protocol)) {
        for (const char* key : {"tunnel_idle_timeout", "max_header_size", "max_body_size", "path_normalization",
                                "http2", "http2_limits", "request_headers", "response_headers",
                                "request_id", "trace_context"})
            map.reject(key, std::string(key) + " only applies to http and https listeners");
    }
    if (udp) {
        map.reject("idle_timeout", "use udp.idle_timeout on udp listeners");
        map.reject("max_connections", "use udp.max_flows on udp listeners");
        map.reject("tcp_keepalive", "tcp_keepalive does not apply to udp listeners");
        map.reject("accept_proxy_protocol", "accept_proxy_protocol is not supported on udp listeners");
        map.reject("trusted_proxies", "trusted_proxies does not apply to udp listeners");
        map.reject("client_limits", "client_limits does not apply to udp listeners (see udp.max_flows)");
    } else {
        map.reject("udp", "udp settings only apply to udp listeners");
    }
    if (protocol == ListenerProtocol::tcp || udp)
        map.reject("rules", "rules are not supported on " + protocol_name + " listeners");
    if (protocol != ListenerProtocol::https) map.reject("tls", "tls is only allowed on https listeners");
    if (protocol != ListenerProtocol::tcp && protocol != ListenerProtocol::tls_passthrough)
        map.reject("proxy_protocol", "proxy_protocol is only supported on tcp and tls_passthrough listeners");

    // L4 connections idle longer than HTTP keep-alives: NLB's 350s, not ALB's 60s.
    if (protocol == ListenerProtocol::tcp || protocol == ListenerProtocol::tls_passthrough)
        listener.idle_timeout = 350s;
    if (auto timeout = map.get("idle_timeout")) listener.idle_timeout = timeout->duration(1ms, max_duration);
    if (auto timeout = map.get("header_timeout")) listener.header_timeout = timeout->duration(1ms, max_duration);
    if (auto timeout = map.get("tunnel_idle_timeout"))
        listener.tunnel_idle_timeout = timeout->duration(1ms, max_duration);
    // Below 1k no browser request fits; above 1m a header buffer per
    // connection stops being cheap.
    if (auto size = map.get("max_header_size")) listener.max_header_size = size->size(1024, 1024 * 1024);
    if (auto size = map.get("max_body_size")) listener.max_body_size = size->size(0, UINT64_MAX);
    if (auto max = map.get("max_connections")) listener.max_connections = static_cast<int>(max->integer(0, INT_MAX));
    if (auto allow = map.get("allow")) {
        listener.allow = cidr_list(*allow);
        // An empty allow list reads like "nobody" but the model means
        // "everyone"; make the operator say which.
        if (listener.allow.empty()) allow->fail("needs at least one CIDR (leave allow out to accept everyone)");
    }
    // Without a PROXY header only HTTP has a client address to trust (X-Forwarded-For).
    if (!is_http(protocol) && !listener.accept_proxy_protocol)
        map.reject("trusted_proxies", "trusted_proxies on " + protocol_name +
                                          " listeners only applies with accept_proxy_protocol: true");
    if (auto trusted = map.get("trusted_proxies")) {
        listener.trusted_proxies = cidr_list(*trusted);
        if (listener.trusted_proxies.empty()) trusted->fail("needs at least one CIDR");
    }
    if (auto accept = map.get("accept_proxy_protocol")) {
        if (listener.accept_proxy_protocol && listener.trusted_proxies.empty())
            accept->fail("accept_proxy_protocol needs trusted_proxies (who may send the PROXY header)");
    }
    if (auto proxy = map.get("proxy_protocol"))
        listener.proxy_protocol = choose(*proxy, kProxyProtocolNames);
    if (auto keepalive = map.get("tcp_keepalive")) {
        YamlMapping keepalive_map(*keepalive, {"enabled", "idle", "interval", "count"});
        TcpKeepalive& out = listener.tcp_keepalive;
        if (auto enabled = keepalive_map.get("enabled")) out.enabled = enabled->boolean();
        // The kernel takes whole seconds, at most 32767 (MAX_TCP_KEEPIDLE).
        for (auto [key, field] : {std::pair{"idle", &out.idle}, std::pair{"interval", &out.interval}}) {
            if (auto v = keepalive_map.get(key)) {
                *field = v->duration(1s, 32767s);
                if (field->count() % 1000 != 0) v->fail("must be a whole number of seconds");
            }
        }
        if (auto count = keepalive_map.get("count")) out.count = static_cast<int>(count->integer(1, 127));
    }
    load_request_identity(map, listener);
    if (auto edits = map.get("request_headers")) listener.request_headers = load_header_edits(*edits, true);
    if (auto edits = map.get("response_headers")) listener.response_headers = load_header_edits(*edits, false);
    if (auto normalization = map.get("path_normalization")) {
        YamlMapping normalization_map(*normalization, {"merge_slashes", "forward"});
        PathNormalization& out = listener.path_normalization;
        if (auto merge = normalization_map.get("merge_slashes")) out.merge_slashes = merge->boolean();
        if (auto forward = normalization_map.get("forward"))
            out.forward_normalized = choose(*forward, kPathForwardNames);
    }
    auto rate = [](const YamlValue& value, ClientRate& rate) {
        YamlMapping rate_map(value, {"per_second", "burst"});
        rate.per_second = static_cast<uint32_t>(rate_map.require("per_second").integer(1, 1000000));
        rate.burst = rate.per_second;
        if (auto burst = rate_map.get("burst")) rate.burst = static_cast<uint32_t>(burst->integer(1, 1000000));
    };
    if (protocol == ListenerProtocol::https) listener.http2.mode = Http2Mode::on;
    if (auto http2 = map.get("http2")) {
        listener.http2.mode = choose(*http2, kHttp2ModeNames);
        if (protocol == ListenerProtocol::https && listener.http2.mode == Http2Mode::prior_knowledge)
            http2->fail("https listeners offer HTTP/2 through ALPN: write true (the default) or false");
        if (protocol == ListenerProtocol::http && listener.http2.mode == Http2Mode::on)
            http2->fail("HTTP/2 on a plain http listener is h2c for clients that know it is there: "
                        "write prior_knowledge (or use an https listener, where ALPN offers it)");
    }
    if (auto limits = map.get("http2_limits")) {
        YamlMapping limits_map(*limits, {"max_concurrent_streams", "stream_window", "connection_window", "reset_rate",
                                         "control_frame_rate"});
        Http2& out = listener.http2;
        if (auto streams = limits_map.get("max_concurrent_streams"))
            out.max_concurrent_streams = static_cast<uint32_t>(streams->integer(1, 10000));
        // 16k: a DATA frame's default size; 2^31-1: the protocol's largest window.
        if (auto window = limits_map.get("stream_window"))
            out.stream_window = static_cast<uint32_t>(window->size(16 * 1024, 0x7fffffff));
        if (auto window = limits_map.get("connection_window")) {
            out.connection_window = static_cast<uint32_t>(window->size(64 * 1024, 0x7fffffff));
            if (out.connection_window < out.stream_window)
                window->fail("must be at least stream_window (" + std::to_string(out.stream_window) + " bytes)");
        }
        if (auto reset_rate = limits_map.get("reset_rate")) rate(*reset_rate, out.reset_rate);
        if (auto control_rate = limits_map.get("control_frame_rate")) rate(*control_rate, out.control_frame_rate);
    }
    if (auto limits = map.get("client_limits")) {
        YamlMapping limits_map(*limits, {"connections", "connection_rate", "request_rate"});
        ClientLimits& out = listener.client_limits;
        if (auto connections = limits_map.get("connections"))
            out.connections = static_cast<int>(connections->integer(0, 1000000));
        if (auto connection_rate = limits_map.get("connection_rate")) rate(*connection_rate, out.connection_rate);
        if (!is_http(protocol))
            limits_map.reject("request_rate", "request_rate only applies to http and https listeners");
        if (auto request_rate = limits_map.get("request_rate")) rate(*request_rate, out.request_rate);
    }
    if (auto udp_settings = map.get("udp")) {
        YamlMapping udp_map(*udp_settings, {"idle_timeout", "max_flows"});
        if (auto timeout = udp_map.get("idle_timeout")) listener.udp.idle_timeout = timeout->duration(1ms, max_duration);
        if (auto flows = udp_map.get("max_flows")) listener.udp.max_flows = static_cast<int>(flows->integer(1, INT_MAX));
    }
    if (protocol == ListenerProtocol::https) listener.tls = load_listener_tls(map.require("tls"));

    if (auto rules = map.get("rules")) {
        std::map<int, int> first_line_of_priority;
        for (const auto& item : rules->items())
            listener.rules.push_back(load_rule(item, listener, first_line_of_priority));
        std::stable_sort(listener.rules.begin(), listener.rules.end(),
                         [](const Rule& a, const Rule& b) { return a.priority < b.priority; });
    }
    listener.default_action = load_action(map.require("default_action"), listener);
    return listener;
}

namespace {

// The id goes both ways, so neither side may already give the header a
// meaning: not Host or the trace headers, and nothing HTTP or a WebSocket
// handshake defines for responses (a Location or Content-Type written twice
// would break the answer).
bool can_carry_request_id(std::string_view name) {
    static constexpr std::string_view kMeaningful[] = {
        "host", "traceparent", "tracestate", "location", "content-type", "content-encoding", "content-range",
        "content-location", "content-disposition", "content-language", "etag", "last-modified", "set-cookie", "cookie",
        "authorization", "www-authenticate", "proxy-authorization", "proxy-authenticate", "retry-after", "vary",
        "cache-control", "expires", "date", "server", "age", "accept-ranges", "allow", "alt-svc", "link", "origin"};
    for (std::string_view meaningful : kMeaningful)
        if (iequals(name, meaningful)) return false;
    return !(name.size() >= 4 && iequals(name.substr(0, 4), "sec-"));  // the WebSocket handshake's and fetch's
}

}  // namespace

// `request_id` (off, or header and trust) and `trace_context` (README
// "Request ids and trace context").
void Loader::load_request_identity(const YamlMapping& map, Listener& listener) {
    if (auto request_id = map.get("request_id")) {
        if (request_id->is_scalar() && lower(request_id->scalar()) == "off") {
            listener.request_id.enabled = false;
        } else {
            YamlMapping id_map(*request_id, {"header", "trust"});
            if (auto header = id_map.get("header")) {
                listener.request_id.header = header->string();
                check(*header, check_editable_header(listener.request_id.header, HeaderSide::request, HeaderEdit::set));
                if (!can_carry_request_id(listener.request_id.header))
                    header->fail("'" + listener.request_id.header +
                                 "' means something else to clients or targets: it cannot carry the request id");
            }
            if (auto trust = id_map.get("trust")) {
                listener.request_id.trust = choose(*trust, kRequestIdTrustNames);
                if (listener.request_id.trust == RequestIdTrust::trusted_proxies && listener.trusted_proxies.empty())
                    trust->fail("trust: trusted_proxies needs the listener's trusted_proxies");
            }
        }
    }
    if (auto trace = map.get("trace_context")) listener.trace_context = choose(*trace, kTraceContextNames);
}

ListenerTls Loader::load_listener_tls(const YamlValue& value) {
    YamlMapping map(value, {"certificates", "policy", "handshake_timeout"});
    ListenerTls tls;
    auto certificates = map.require("certificates");
    for (const auto& item : certificates.items()) {
        YamlMapping certificate_map(item, {"cert", "key"});
        Certificate certificate;
        certificate.pos = item.pos();
        certificate.cert = readable_file(certificate_map.require("cert"));
        certificate.key = readable_file(certificate_map.require("key"));
        tls.certificates.push_back(std::move(certificate));
    }
    if (tls.certificates.empty()) certificates.fail("needs at least one certificate");
    if (auto policy = map.get("policy")) {
        std::string name = lower(policy->string());
        if (name != "recommended" && name != "modern" && name != "compat")
            policy->fail("must be recommended, modern or compat, got '" + policy->scalar() + "'");
        tls.policy = name;
    }
    if (auto timeout = map.get("handshake_timeout")) tls.handshake_timeout = timeout->duration(1ms, max_duration);
    return tls;
}

}  // namespace lb::conf

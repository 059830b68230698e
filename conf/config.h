// The validated configuration model: what conf/config_loader builds from
// YAML (README, "Configuration") and what lb/runtime compiles into a snapshot.
// Plain data; no behaviour beyond small helpers. Every field has the default
// an operator gets when the key is absent.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "conf/access_log_format.h"
#include "conf/header_template.h"
#include "lb/base/net_address.h"

namespace lb::conf {

using Duration = std::chrono::milliseconds;
using namespace std::chrono_literals;

// Where a YAML node was, for errors found after loading (reload, cert load).
struct SourcePos {
    std::string file;
    int line = 0;    // 1-based
    int column = 0;  // 1-based
    std::string key_path;  // e.g. "listeners[0].tls.certificates[1]"
    // "file:line:col: key_path: message"
    std::string format(const std::string& message) const;
};

// ---------------------------------------------------------------- global

enum class AccessLogFormat { json, combined, text_template, off };

struct AccessLog {
    std::string path = "stdout";   // "stdout", "stderr" or a file path
    AccessLogFormat format = AccessLogFormat::json;
    std::vector<LogField> fields;  // json: the fields written; empty = all
    std::vector<LogTemplatePiece> text_template;  // format: template, compiled
};

struct Admin {
    bool enabled = true;
    SocketAddress listen = *SocketAddress::parse("127.0.0.1:9901");
    std::string token_file;        // empty = no token (only allowed on loopback)
};

// Where and how DNS names of targets are resolved (README "Targets by DNS
// name"). No nameservers: /etc/resolv.conf (and /etc/hosts).
struct Resolver {
    std::vector<SocketAddress> nameservers;
    Duration timeout = 2s;         // per try, 100ms..30s
    int attempts = 2;              // tries per server, 1..10
    // NXDOMAIN or an empty answer empties a name's targets only after this
    // long; a failing server (timeout, SERVFAIL, refused) never does.
    Duration hold = 5min;
    // The record's TTL, bounded by these, sets the next lookup.
    Duration min_ttl = 1s;
    Duration max_ttl = 1h;
};

struct Global {
    int workers = 0;               // 0 = auto (one per core)
    std::string zone;              // zone this appliance runs in
    int max_connections = 100000;  // client connections over all listeners
    Duration shutdown_timeout = 30s;
    // Binary upgrade: how long the old lb waits for the new one to be ready.
    Duration upgrade_timeout = 60s;
    std::string pid_file;
    AccessLog access_log;
    Admin admin;
    std::string sticky_secret_file;
    Resolver resolver;
    SourcePos pos;
};

// ---------------------------------------------------------------- rules

// A header or query condition: name plus alternative values (wildcards allowed).
struct KeyValuesCondition {
    std::string key;
    std::vector<std::string> values;
};

// All present conditions must match; values inside one condition are OR'ed.
struct Conditions {
    std::vector<std::string> host;          // case-insensitive, * and ? wildcards
    std::vector<std::string> path;          // case-sensitive, * and ? wildcards
    std::vector<std::string> method;        // exact, upper case
    std::vector<KeyValuesCondition> header; // name case-insensitive, values wildcard
    std::vector<KeyValuesCondition> query;  // key and values wildcard, case-sensitive
    std::vector<Cidr> source_ip;
    bool empty() const {
        return host.empty() && path.empty() && method.empty() && header.empty() && query.empty() &&
               source_ip.empty();
    }
};

struct WeightedTargetGroup {
    std::string name;
    int weight = 1;                // 0..999 as ALB
};

// A header value with #{...} variables (README "Header rewriting"),
// parsed by conf/header_template.h when the config loads.
struct HeaderTemplate {
    std::string name;
    std::string value;             // as written, with its variables
    std::vector<TemplatePiece> pieces;
    SourcePos pos;
};

// Changes to the headers of a request before it goes to a target, or of a
// response before it goes to the client: removed first, then set (every
// header of that name replaced by one), then added.
struct HeaderEdits {
    std::vector<std::string> remove;   // as written
    std::vector<HeaderTemplate> set;
    std::vector<HeaderTemplate> add;
    bool empty() const { return remove.empty() && set.empty() && add.empty(); }
};

// A path that starts with `prefix` has it replaced by `replacement` before
// forwarding (nginx: proxy_pass http://g/new/ inside location /old/). The
// query is kept.
struct PathRewrite {
    std::string prefix;            // empty = no rewrite
    std::string replacement;
    bool enabled() const { return !prefix.empty(); }
};

struct ForwardAction {
    std::vector<WeightedTargetGroup> target_groups;  // one or more
    bool stickiness = false;       // group-level stickiness (lb cookie)
    Duration stickiness_duration = 1h;
    PathRewrite path_rewrite;
    HeaderEdits request_headers;   // after the listener's
    HeaderEdits response_headers;  // after the listener's
};

// Absent fields keep the request's value. Placeholders #{protocol} #{host}
// #{port} #{path} #{query} are expanded from the request.
struct RedirectAction {
    std::string protocol = "#{protocol}";  // HTTP | HTTPS | #{protocol}
    std::string host = "#{host}";
    std::string port = "#{port}";
    std::string path = "/#{path}";
    std::string query = "#{query}";
    int status = 301;              // 301 302 303 307 308
    HeaderEdits response_headers;  // set and add only, after the listener's
};

struct FixedResponseAction {
    int status = 200;
    std::string content_type = "text/plain";
    std::string body;
    HeaderEdits response_headers;  // set and add only, after the listener's
};

struct Action {
    enum class Kind { forward, redirect, fixed_response };
    Kind kind = Kind::forward;
    int rule_priority = 0;         // the rule this action belongs to; 0 = the default action
    ForwardAction forward;
    RedirectAction redirect;
    FixedResponseAction fixed_response;
    SourcePos pos;
};

struct Rule {
    int priority = 0;
    Conditions conditions;
    Action action;
    SourcePos pos;
};

// ---------------------------------------------------------------- listeners

enum class ListenerProtocol { http, https, tcp, tls_passthrough, udp };
enum class ProxyProtocol { none, v1, v2 };

struct Certificate {
    std::string cert;              // PEM chain path
    std::string key;               // PEM key path
    SourcePos pos;
};

struct ListenerTls {
    std::vector<Certificate> certificates;  // first is the default
    std::string policy = "recommended";     // recommended | modern | compat
    Duration handshake_timeout = 10s;
};

struct Udp {
    Duration idle_timeout = 120s;
    int max_flows = 65536;         // per worker
};

struct TcpKeepalive {
    bool enabled = true;
    Duration idle = 60s;           // TCP_KEEPIDLE
    Duration interval = 10s;       // TCP_KEEPINTVL
    int count = 6;                 // TCP_KEEPCNT
};

// How request paths are normalized before rules see them (README "Path
// normalization"). Dot segments and escapes of unreserved characters are
// always normalized; these are the choices.
struct PathNormalization {
    bool merge_slashes = true;     // "//a///b" -> "/a/b"
    bool forward_normalized = true;  // the target gets the path rules matched; false: as the client sent it
};

// Per-client limits (README "Per-client limits"), counted over all
// workers. A rate admits `per_second` events a second on average and
// `burst` at once from a client that was quiet.
struct ClientRate {
    uint32_t per_second = 0;       // 0 = no limit
    uint32_t burst = 0;            // >= 1 when limited (default: per_second)
};

// HTTP/2 to clients (README "HTTP/2"). `on`: offered in ALPN on https
// listeners; `prior_knowledge`: h2c on http listeners, for clients that
// start with the HTTP/2 preface.
// README "Request ids and trace context". Whose incoming id is kept:
// nobody's, the listener's trusted_proxies', or every client's.
enum class RequestIdTrust { none, trusted_proxies, all };

struct RequestId {
    bool enabled = true;           // false: no header to targets or clients (the log still has an id)
    std::string header = "X-Request-Id";
    RequestIdTrust trust = RequestIdTrust::none;
};

// pass: a valid traceparent (and its tracestate) goes on unchanged, an
// invalid one is dropped. start: lb takes part, forwarding its own span id
// as parent-id, and starts a trace when there is none (or it is invalid).
enum class TraceContext { pass, start };

enum class Http2Mode { off, on, prior_knowledge };

struct Http2 {
    Http2Mode mode = Http2Mode::off;        // the loader sets https listeners on
    uint32_t max_concurrent_streams = 128;
    // What a client may send ahead of lb's reading: per stream (a paused
    // upload holds at most this), and over the whole connection.
    uint32_t stream_window = 64 * 1024;
    uint32_t connection_window = 1024 * 1024;
    // Streams the client resets before their answer is complete (rapid
    // reset, CVE-2023-44487), and frames that carry no request (PING,
    // SETTINGS, PRIORITY, empty DATA): over the rate, GOAWAY
    // ENHANCE_YOUR_CALM.
    ClientRate reset_rate{100, 400};
    ClientRate control_frame_rate{100, 1000};
};

struct ClientLimits {
    int connections = 0;           // open at once per client; 0 = no limit
    ClientRate connection_rate;    // new connections
    ClientRate request_rate;       // HTTP requests (http, https)
    bool any() const { return connections > 0 || connection_rate.per_second > 0 || request_rate.per_second > 0; }
};

struct Listener {
    std::string name;
    ListenerProtocol protocol = ListenerProtocol::http;
    SocketAddress listen;

    // Timeouts. idle: no bytes on an idle keep-alive client connection or an
    // L4 tunnel (default 60s for http/https, 350s for tcp/tls_passthrough). header: from the first byte of a request until its headers
    // are complete (408). tunnel_idle: an upgraded (WebSocket) connection.
    Duration idle_timeout = 60s;
    Duration header_timeout = 30s;
    Duration tunnel_idle_timeout = 1h;

    // Limits: 431 over max_header_size, 413 over max_body_size (0 = none).
    uint64_t max_header_size = 64 * 1024;
    uint64_t max_body_size = 0;
    int max_connections = 0;       // 0 = only the global limit

    std::vector<Cidr> allow;       // empty = everyone
    PathNormalization path_normalization;       // http, https
    Http2 http2;                                // http, https
    ClientLimits client_limits;
    std::vector<Rule> rules;       // sorted by priority after loading
    Action default_action;
    // Applied to every forwarded request / every response from a target,
    // before an action's own edits.
    HeaderEdits request_headers;   // http, https
    HeaderEdits response_headers;  // http, https

    std::optional<ListenerTls> tls;             // https only
    ProxyProtocol proxy_protocol = ProxyProtocol::none;  // tcp, tls_passthrough: send to targets
    bool accept_proxy_protocol = false;         // expect a PROXY header from trusted_proxies
    std::vector<Cidr> trusted_proxies;          // PROXY header / X-Forwarded-For trust
    RequestId request_id;                       // http, https
    TraceContext trace_context = TraceContext::pass;  // http, https
    TcpKeepalive tcp_keepalive;
    Udp udp;
    SourcePos pos;
};

// ---------------------------------------------------------------- target groups

enum class TargetProtocol { http, https, tcp, udp };
enum class Algorithm { round_robin, least_outstanding_requests, least_connections, weighted_random, source_ip_hash, hash };

// What the `hash` algorithm hashes (README "Algorithms"). A request without
// the key is balanced round robin.
struct HashKey {
    enum class Kind { none, header, cookie, query, client_ip };
    Kind kind = Kind::none;
    std::string name;              // header (lower case), cookie or query key
    int ipv4_prefix = 32;          // client_ip: bits of an IPv4 address kept
    int ipv6_prefix = 128;         // client_ip: bits of an IPv6 address kept
};

// Taking a target out on failures seen in traffic, without an active check
// (nginx max_fails / fail_timeout): `max_fails` failed tries within
// `fail_timeout` keep the target out of rotation for `fail_timeout`.
struct PassiveHealth {
    int max_fails = 0;             // 0 = off
    Duration fail_timeout = 10s;
};

// When a request is sent again to another target (README "Retries").
struct Retry {
    bool connect_failure = true;   // refused, connect timeout, TLS failure, closed or reset before answering
    bool timeout = false;          // response_timeout before any response byte
    std::vector<int> statuses;     // final response statuses that are retried
    int tries = 3;                 // tries in all, first included (1..10)
    Duration timeout_budget = 0s;  // no new try this long after the request started (0 = none)
    bool non_idempotent = false;   // also retry POST, PATCH, ... once they were sent
    bool on_status(int status) const {
        for (int s : statuses)
            if (s == status) return true;
        return false;
    }
};

struct Target {
    std::string address;           // IP literal, or a DNS name, as written
    uint16_t port = 0;
    // address + port. For a DNS name: invalid in the YAML's config; the
    // targets served are one per address it resolves to (lb/discovery).
    SocketAddress addr;
    int weight = 1;                // 0..1000; 0 = no new traffic
    std::string zone;
    // Only the lowest tier with a target that may take traffic is used
    // (SRV priority). YAML targets are all tier 0.
    int tier = 0;
    // Serves only when no other target of the group may (nginx `backup`):
    // a tier below every other.
    bool backup = false;
    // The DNS name this target was found by (a name target's, or the SRV
    // record's); empty for an IP literal.
    std::string discovered_by;
    SourcePos pos;

    bool is_name() const { return !addr.valid(); }
};

// Targets from a DNS SRV record instead of a `targets` list.
struct Discovery {
    std::string srv;               // e.g. _http._tcp.app.service.consul; empty = none
    Duration refresh = 0s;         // 0 = follow the records' TTLs
};

struct HealthCheck {
    bool enabled = false;          // no health_check key = targets healthy at once
    enum class Protocol { http, https, tcp };
    Protocol protocol = Protocol::http;
    std::string path = "/";
    std::optional<uint16_t> port;  // nullopt = traffic-port
    Duration interval = 30s;       // 1s..300s
    Duration timeout = 5s;
    int healthy_threshold = 5;     // 2..10
    int unhealthy_threshold = 2;   // 2..10
    // "200", "200-399", "200,204": list of inclusive ranges.
    std::string matcher = "200";
    std::vector<std::pair<int, int>> matcher_ranges{{200, 200}};
    bool matches(int status) const {
        for (auto [lo, hi] : matcher_ranges)
            if (status >= lo && status <= hi) return true;
        return false;
    }
};

struct Stickiness {
    enum class Type { none, lb_cookie, app_cookie, source_ip };
    Type type = Type::none;
    Duration duration = 24h;       // lb_cookie / app_cookie: 1s..7d
    std::string cookie_name;       // lb_cookie: default LBSTICKY; app_cookie: the app's cookie
};

struct UpstreamTls {
    bool verify = true;
    std::string ca_file;           // empty = system default store
    std::string server_name;       // SNI; empty = target address
};

struct TargetGroup {
    std::string name;
    TargetProtocol protocol = TargetProtocol::http;
    Algorithm algorithm = Algorithm::round_robin;
    HashKey hash_key;                         // algorithm: hash
    bool cross_zone = true;
    std::map<std::string, int> zone_weights;  // cross_zone: false only
    Duration deregistration_delay = 300s;     // 0..3600s
    Duration slow_start = 0s;
    Duration connect_timeout = 5s;
    Duration response_timeout = 60s;          // 504 when the target is silent this long
    uint32_t receive_buffer = 0;              // SO_RCVBUF per target connection; 0: kernel autotuning
    Stickiness stickiness;
    HealthCheck health_check;
    PassiveHealth passive_health;
    Retry retry;
    UpstreamTls tls;                          // protocol: https
    Discovery discovery;
    std::vector<Target> targets;
    SourcePos pos;

    bool names_target(const SocketAddress& address) const {
        for (const auto& target : targets)
            if (target.addr == address) return true;
        return false;
    }
    // Some of its targets come from DNS (names, or an SRV record).
    bool discovered() const {
        if (!discovery.srv.empty()) return true;
        for (const auto& target : targets)
            if (target.is_name()) return true;
        return false;
    }
};

// ---------------------------------------------------------------- config

struct Config {
    std::string path;              // the file it was loaded from
    Global global;
    std::vector<Listener> listeners;
    std::vector<TargetGroup> target_groups;

    const TargetGroup* find_target_group(const std::string& name) const {
        for (const auto& group : target_groups)
            if (group.name == name) return &group;
        return nullptr;
    }
};

const char* to_string(ListenerProtocol protocol);
const char* to_string(TargetProtocol protocol);
const char* to_string(Algorithm algorithm);
const char* to_string(HealthCheck::Protocol protocol);
const char* to_string(Http2Mode mode);

}  // namespace lb::conf

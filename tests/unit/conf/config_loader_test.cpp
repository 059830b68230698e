// Configs that load: defaults, shorthand forms, normalisation, positions.
#include <gtest/gtest.h>

#include "conf/config_loader.h"
#include "test_support.h"

namespace lb::conf {
namespace {

using namespace std::chrono_literals;
using testing::TempDir;
using testing::load_ok;
using testing::yaml;

const std::string minimal = yaml(R"(
listeners:
  - name: web
    listen: 127.0.0.1:8080
    default_action: { forward: { target_group: demo } }
target_groups:
  - name: demo
    targets:
      - { address: 127.0.0.1, port: 9001 }
)");

TEST(ConfigLoader, MinimalConfigGetsEveryDefault) {
    Config config = load_ok(minimal);
    EXPECT_EQ(config.path, "lb.yaml");

    const Global& global = config.global;
    EXPECT_EQ(global.workers, 0);
    EXPECT_EQ(global.max_connections, 100000);
    EXPECT_EQ(global.shutdown_timeout, 30s);
    EXPECT_EQ(global.access_log.path, "stdout");
    EXPECT_EQ(global.access_log.format, AccessLogFormat::json);
    EXPECT_TRUE(global.admin.enabled);
    EXPECT_EQ(global.admin.listen.to_string(), "127.0.0.1:9901");
    EXPECT_TRUE(global.pid_file.empty());

    ASSERT_EQ(config.listeners.size(), 1u);
    const Listener& listener = config.listeners[0];
    EXPECT_EQ(listener.name, "web");
    EXPECT_EQ(listener.protocol, ListenerProtocol::http);
    EXPECT_EQ(listener.listen.to_string(), "127.0.0.1:8080");
    EXPECT_EQ(listener.idle_timeout, 60s);
    EXPECT_EQ(listener.header_timeout, 30s);
    EXPECT_EQ(listener.tunnel_idle_timeout, 1h);
    EXPECT_EQ(listener.max_header_size, 64u * 1024);
    EXPECT_EQ(listener.max_body_size, 0u);
    EXPECT_TRUE(listener.allow.empty());
    EXPECT_TRUE(listener.rules.empty());
    EXPECT_FALSE(listener.tls);
    EXPECT_EQ(listener.proxy_protocol, ProxyProtocol::none);
    EXPECT_TRUE(listener.tcp_keepalive.enabled);
    EXPECT_EQ(listener.default_action.kind, Action::Kind::forward);
    ASSERT_EQ(listener.default_action.forward.target_groups.size(), 1u);
    EXPECT_EQ(listener.default_action.forward.target_groups[0].name, "demo");
    EXPECT_EQ(listener.default_action.forward.target_groups[0].weight, 1);
    EXPECT_FALSE(listener.default_action.forward.stickiness);

    ASSERT_EQ(config.target_groups.size(), 1u);
    const TargetGroup& group = config.target_groups[0];
    EXPECT_EQ(group.protocol, TargetProtocol::http);
    EXPECT_EQ(group.algorithm, Algorithm::round_robin);
    EXPECT_TRUE(group.cross_zone);
    EXPECT_EQ(group.deregistration_delay, 300s);
    EXPECT_EQ(group.slow_start, 0s);
    EXPECT_EQ(group.stickiness.type, Stickiness::Type::none);
    EXPECT_FALSE(group.health_check.enabled);
    ASSERT_EQ(group.targets.size(), 1u);
    EXPECT_EQ(group.targets[0].address, "127.0.0.1");
    EXPECT_EQ(group.targets[0].port, 9001);
    EXPECT_EQ(group.targets[0].addr.to_string(), "127.0.0.1:9001");
    EXPECT_EQ(group.targets[0].weight, 1);
    EXPECT_EQ(config.find_target_group("demo"), &group);
}

TEST(ConfigLoader, SourcePositionsAreFilled) {
    TempDir dir;
    dir.write("a.pem", "x");
    dir.write("a.key", "x");
    std::string name = (dir.path() / "lb.yaml").string();
    Config config = load_ok(yaml(R"(
global:
  workers: 2
listeners:
  - name: web
    protocol: https
    listen: 0.0.0.0:443
    tls:
      certificates:
        - { cert: a.pem, key: a.key }
    rules:
      - priority: 5
        conditions: { path: /x }
        action: { fixed_response: { status: 404 } }
    default_action: { forward: { target_group: demo } }
target_groups:
  - name: demo
    targets:
      - { address: 127.0.0.1, port: 9001 }
)"),
                            name);
    auto expect_pos = [&](const SourcePos& pos, int line, int column, const std::string& path) {
        EXPECT_EQ(pos.file, name);
        EXPECT_EQ(pos.line, line) << path;
        EXPECT_EQ(pos.column, column) << path;
        EXPECT_EQ(pos.key_path, path);
    };
    expect_pos(config.global.pos, 2, 3, "global");
    const Listener& listener = config.listeners.at(0);
    expect_pos(listener.pos, 4, 5, "listeners[0]");
    expect_pos(listener.tls->certificates.at(0).pos, 9, 11, "listeners[0].tls.certificates[0]");
    expect_pos(listener.rules.at(0).pos, 11, 9, "listeners[0].rules[0]");
    expect_pos(listener.rules.at(0).action.pos, 13, 17, "listeners[0].rules[0].action");
    expect_pos(listener.default_action.pos, 14, 21, "listeners[0].default_action");
    expect_pos(config.target_groups.at(0).pos, 16, 5, "target_groups[0]");
    expect_pos(config.target_groups.at(0).targets.at(0).pos, 18, 9, "target_groups[0].targets[0]");
    // A position formats into the same one-line error shape the loader uses.
    EXPECT_EQ(listener.tls->certificates[0].pos.format("bad PEM"),
              name + ":9:11: listeners[0].tls.certificates[0]: bad PEM");
}

TEST(ConfigLoader, RulesAreSortedByPriorityAndValuesNormalised) {
    Config config = load_ok(yaml(R"(
listeners:
  - name: web
    listen: 127.0.0.1:8080
    rules:
      - priority: 30
        conditions: { path: /c }
        action: { fixed_response: { body: c } }
      - priority: 10
        conditions:
          host: API.Example.com
          method: [get, Post]
          path: /a*
          header: { X-Canary: "true", Accept: [text/html, "application/*"] }
          query: { version: ["2", "3?"] }
          source_ip: 10.0.0.0/8
        action: { fixed_response: { body: a } }
      - priority: 20
        conditions: { path: ["/b", "/b/*"] }
        action: { fixed_response: { body: b } }
    default_action: { fixed_response: { status: 404, body: "" } }
)"));
    const auto& rules = config.listeners.at(0).rules;
    ASSERT_EQ(rules.size(), 3u);
    EXPECT_EQ(rules[0].priority, 10);
    EXPECT_EQ(rules[1].priority, 20);
    EXPECT_EQ(rules[2].priority, 30);
    EXPECT_EQ(rules[1].action.fixed_response.body, "b");

    const Conditions& conditions = rules[0].conditions;
    EXPECT_EQ(conditions.host, std::vector<std::string>{"api.example.com"});
    EXPECT_EQ(conditions.method, (std::vector<std::string>{"GET", "POST"}));
    EXPECT_EQ(conditions.path, std::vector<std::string>{"/a*"});
    ASSERT_EQ(conditions.header.size(), 2u);
    EXPECT_EQ(conditions.header[0].key, "X-Canary");
    EXPECT_EQ(conditions.header[0].values, std::vector<std::string>{"true"});
    EXPECT_EQ(conditions.header[1].key, "Accept");
    EXPECT_EQ(conditions.header[1].values, (std::vector<std::string>{"text/html", "application/*"}));
    ASSERT_EQ(conditions.query.size(), 1u);
    EXPECT_EQ(conditions.query[0].key, "version");
    EXPECT_EQ(conditions.query[0].values, (std::vector<std::string>{"2", "3?"}));
    ASSERT_EQ(conditions.source_ip.size(), 1u);
    EXPECT_EQ(conditions.source_ip[0].to_string(), "10.0.0.0/8");
    EXPECT_EQ(rules[1].conditions.path, (std::vector<std::string>{"/b", "/b/*"}));

    const Action& fallback = config.listeners[0].default_action;
    EXPECT_EQ(fallback.kind, Action::Kind::fixed_response);
    EXPECT_EQ(fallback.fixed_response.status, 404);
    EXPECT_EQ(fallback.fixed_response.content_type, "text/plain");
}

TEST(ConfigLoader, ForwardForms) {
    Config config = load_ok(yaml(R"(
target_groups: [{ name: a }, { name: b }, { name: c, protocol: https }]
listeners:
  - name: web
    listen: 127.0.0.1:8080
    rules:
      - priority: 1
        conditions: { path: /eq }
        action: { forward: { target_groups: [a, b] } }
      - priority: 2
        conditions: { path: /weighted }
        action:
          forward:
            target_groups: [{ name: a, weight: 0 }, { name: c }]
            stickiness: { duration: 10m }
    default_action: { forward: { target_group: b } }
)"));
    const Listener& listener = config.listeners.at(0);
    const auto& equal = listener.rules.at(0).action.forward;
    ASSERT_EQ(equal.target_groups.size(), 2u);
    EXPECT_EQ(equal.target_groups[0].name, "a");
    EXPECT_EQ(equal.target_groups[1].name, "b");
    EXPECT_EQ(equal.target_groups[1].weight, 1);

    const auto& weighted = listener.rules.at(1).action.forward;
    EXPECT_EQ(weighted.target_groups[0].weight, 0);
    EXPECT_EQ(weighted.target_groups[1].weight, 1);  // default
    EXPECT_TRUE(weighted.stickiness);                 // the block turns it on
    EXPECT_EQ(weighted.stickiness_duration, 10min);
}

TEST(ConfigLoader, RedirectForms) {
    Config config = load_ok(yaml(R"(
listeners:
  - name: web
    listen: 0.0.0.0:80
    rules:
      - priority: 1
        conditions: { path: /old/* }
        action: { redirect: { path: "/new/#{path}", status: HTTP_302 } }
      - priority: 2
        conditions: { host: example.com }
        action: { redirect: { host: "www.example.com", port: "#{port}", query: "" } }
    default_action: { redirect: { protocol: https, port: 443 } }
)"));
    const Listener& listener = config.listeners.at(0);
    const RedirectAction& to_https = listener.default_action.redirect;
    EXPECT_EQ(listener.default_action.kind, Action::Kind::redirect);
    EXPECT_EQ(to_https.protocol, "HTTPS");
    EXPECT_EQ(to_https.port, "443");
    EXPECT_EQ(to_https.host, "#{host}");
    EXPECT_EQ(to_https.path, "/#{path}");
    EXPECT_EQ(to_https.query, "#{query}");
    EXPECT_EQ(to_https.status, 301);

    const RedirectAction& moved = listener.rules.at(0).action.redirect;
    EXPECT_EQ(moved.path, "/new/#{path}");
    EXPECT_EQ(moved.status, 302);
    EXPECT_EQ(moved.protocol, "#{protocol}");

    const RedirectAction& www = listener.rules.at(1).action.redirect;
    EXPECT_EQ(www.host, "www.example.com");
    EXPECT_EQ(www.query, "");
}

TEST(ConfigLoader, ListenerSettingsPerProtocol) {
    Config config = load_ok(yaml(R"(
target_groups:
  - { name: t, protocol: tcp }
  - { name: u, protocol: udp }
listeners:
  - name: game
    protocol: TCP
    listen: "[::]:7000"
    idle_timeout: 1h30m
    max_connections: 10
    proxy_protocol: v1
    accept_proxy_protocol: yes
    trusted_proxies: 10.0.0.0/8
    tcp_keepalive: { idle: 2m, interval: 5s, count: 3 }
    default_action: { forward: { target_group: t } }
  - name: game-udp
    protocol: udp
    listen: "[::]:7000"
    udp: { idle_timeout: 45s, max_flows: 100 }
    default_action: { forward: { target_group: u } }
  - name: v4
    protocol: tcp
    listen: 0.0.0.0:7000
    default_action: { forward: { target_group: t } }
)"));
    const Listener& tcp = config.listeners.at(0);
    EXPECT_EQ(tcp.protocol, ListenerProtocol::tcp);
    EXPECT_EQ(tcp.listen.to_string(), "[::]:7000");
    EXPECT_EQ(tcp.idle_timeout, 90min);
    EXPECT_EQ(tcp.max_connections, 10);
    EXPECT_EQ(tcp.proxy_protocol, ProxyProtocol::v1);
    EXPECT_TRUE(tcp.accept_proxy_protocol);
    ASSERT_EQ(tcp.trusted_proxies.size(), 1u);
    EXPECT_EQ(tcp.tcp_keepalive.idle, 2min);
    EXPECT_EQ(tcp.tcp_keepalive.interval, 5s);
    EXPECT_EQ(tcp.tcp_keepalive.count, 3);

    const Listener& udp = config.listeners.at(1);
    EXPECT_EQ(udp.protocol, ListenerProtocol::udp);
    EXPECT_EQ(udp.udp.idle_timeout, 45s);
    EXPECT_EQ(udp.udp.max_flows, 100);

    // Without idle_timeout, L4 listeners idle as long as an NLB lets them.
    EXPECT_EQ(config.listeners.at(2).idle_timeout, 350s);
}

TEST(ConfigLoader, TargetGroupSettings) {
    Config config = load_ok(yaml(R"(
target_groups:
  - name: web
    algorithm: least_outstanding_requests
    deregistration_delay: 0s
    slow_start: 30s
    connect_timeout: 250ms
    response_timeout: 2m
    receive_buffer: 256k
    stickiness: { type: lb_cookie }
    health_check: { path: /health, port: 8081, matcher: "200,300-399", interval: 2s }
    targets:
      - { address: "2001:db8::1", port: 80, weight: 0, zone: zone-b }
      - { address: 10.0.0.1, port: 80 }
      - { address: 10.0.0.1, port: 81 }
  - name: sticky-app
    stickiness: { type: app_cookie, cookie_name: JSESSIONID, duration: 2h }
  - name: hashed
    protocol: tcp
    algorithm: source_ip_hash
    cross_zone: false
    zone_weights: { zone-a: 3, zone-b: 1 }
    stickiness: { type: source_ip }
    health_check: { enabled: false }
listeners:
  - { name: web, listen: 127.0.0.1:8080, default_action: { forward: { target_group: web } } }
)"));
    const TargetGroup& web = config.target_groups.at(0);
    EXPECT_EQ(web.algorithm, Algorithm::least_outstanding_requests);
    EXPECT_EQ(web.deregistration_delay, 0s);
    EXPECT_EQ(web.slow_start, 30s);
    EXPECT_EQ(web.connect_timeout, 250ms);
    EXPECT_EQ(web.response_timeout, 2min);
    EXPECT_EQ(web.receive_buffer, 256u * 1024);
    EXPECT_EQ(web.stickiness.type, Stickiness::Type::lb_cookie);
    EXPECT_EQ(web.stickiness.cookie_name, "LBSTICKY");
    EXPECT_EQ(web.stickiness.duration, 24h);

    const HealthCheck& check = web.health_check;
    EXPECT_TRUE(check.enabled);
    EXPECT_EQ(check.protocol, HealthCheck::Protocol::http);
    EXPECT_EQ(check.path, "/health");
    EXPECT_EQ(check.port, std::optional<uint16_t>(8081));
    EXPECT_EQ(check.interval, 2s);
    EXPECT_EQ(check.timeout, 1s);  // the 5s default would not fit inside 2s
    EXPECT_EQ(check.matcher, "200,300-399");
    EXPECT_TRUE(check.matches(200));
    EXPECT_TRUE(check.matches(302));
    EXPECT_FALSE(check.matches(204));

    ASSERT_EQ(web.targets.size(), 3u);
    EXPECT_EQ(web.targets[0].addr.to_string(), "[2001:db8::1]:80");
    EXPECT_EQ(web.targets[0].weight, 0);
    EXPECT_EQ(web.targets[0].zone, "zone-b");

    const TargetGroup& app = config.target_groups.at(1);
    EXPECT_EQ(app.stickiness.type, Stickiness::Type::app_cookie);
    EXPECT_EQ(app.stickiness.cookie_name, "JSESSIONID");
    EXPECT_EQ(app.stickiness.duration, 2h);

    const TargetGroup& hashed = config.target_groups.at(2);
    EXPECT_FALSE(hashed.cross_zone);
    EXPECT_EQ(hashed.receive_buffer, 0u);  // absent: the kernel's autotuning
    EXPECT_EQ(hashed.zone_weights, (std::map<std::string, int>{{"zone-a", 3}, {"zone-b", 1}}));
    EXPECT_EQ(hashed.stickiness.type, Stickiness::Type::source_ip);
    EXPECT_FALSE(hashed.health_check.enabled);
    // An unused target group is fine.
    EXPECT_TRUE(hashed.targets.empty());
}

TEST(ConfigLoader, TcpGroupHealthCheckDefaultsToTcp) {
    Config config = load_ok(yaml(R"(
target_groups:
  - { name: t, protocol: tcp, health_check: { interval: 10s } }
listeners:
  - { name: l, protocol: tcp, listen: 0.0.0.0:7000, default_action: { forward: { target_group: t } } }
)"));
    EXPECT_EQ(config.target_groups.at(0).health_check.protocol, HealthCheck::Protocol::tcp);
    EXPECT_EQ(config.target_groups.at(0).health_check.timeout, 5s);
    EXPECT_FALSE(config.target_groups.at(0).health_check.port);
}

TEST(ConfigLoader, GlobalSettingsAndRelativePaths) {
    TempDir dir;
    dir.write("secrets/admin.token", "t");
    dir.write("secrets/sticky.key", "k");
    dir.write("ca/ca.pem", "c");
    std::string name = (dir.path() / "conf" / "lb.yaml").string();
    std::string root = dir.path().string();
    Config config = load_ok(yaml(R"(
global:
  workers: 4
  zone: zone-a
  max_connections: 5000
  shutdown_timeout: 1m
  pid_file: run/lb.pid
  access_log: { path: ../logs/access.log, format: combined }
  admin: { listen: 0.0.0.0:9901, token_file: ../secrets/admin.token }
  sticky_secret_file: ../secrets/sticky.key
target_groups:
  - name: secure
    protocol: https
    tls: { verify: false, ca_file: ../ca/ca.pem, server_name: backend.internal }
listeners:
  - { name: l, listen: 127.0.0.1:8080, default_action: { forward: { target_group: secure } } }
)"),
                            name);
    const Global& global = config.global;
    EXPECT_EQ(global.workers, 4);
    EXPECT_EQ(global.zone, "zone-a");
    EXPECT_EQ(global.max_connections, 5000);
    EXPECT_EQ(global.shutdown_timeout, 1min);
    EXPECT_EQ(global.pid_file, root + "/conf/run/lb.pid");
    EXPECT_EQ(global.access_log.path, root + "/logs/access.log");
    EXPECT_EQ(global.access_log.format, AccessLogFormat::combined);
    EXPECT_EQ(global.admin.listen.to_string(), "0.0.0.0:9901");
    EXPECT_EQ(global.admin.token_file, root + "/secrets/admin.token");
    EXPECT_EQ(global.sticky_secret_file, root + "/secrets/sticky.key");
    const UpstreamTls& tls = config.target_groups.at(0).tls;
    EXPECT_FALSE(tls.verify);
    EXPECT_EQ(tls.ca_file, root + "/ca/ca.pem");
    EXPECT_EQ(tls.server_name, "backend.internal");
}

TEST(ConfigLoader, AccessLogOffShorthandAndAutoWorkers) {
    Config config = load_ok("global: { workers: auto, access_log: off }\n" + minimal);
    EXPECT_EQ(config.global.workers, 0);
    EXPECT_EQ(config.global.access_log.format, AccessLogFormat::off);
}

TEST(ConfigLoader, DisabledAdminMayListenAnywhereWithoutToken) {
    Config config = load_ok("global: { admin: { enabled: false, listen: \"*:9901\" } }\n" + minimal);
    EXPECT_FALSE(config.global.admin.enabled);
}

TEST(ConfigLoader, SectionsInAnyOrder) {
    // Listeners may be written before the groups they forward to.
    Config config = load_ok(minimal);
    EXPECT_EQ(config.listeners.size(), 1u);
}

TEST(ConfigLoader, LoadsFromFile) {
    TempDir dir;
    std::string path = dir.write("lb.yaml", minimal);
    auto result = load_config_file(path);
    ASSERT_TRUE(result.ok()) << result.error();
    EXPECT_EQ(result->path, path);
    EXPECT_EQ(result->listeners.at(0).pos.file, path);
}

TEST(ConfigLoader, ErrorsFromFileNameTheFile) {
    TempDir dir;
    std::string path = dir.write("bad.yaml", "listeners:\n  - { name: a }\n");
    auto result = load_config_file(path);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error(), path + ":2:5: listeners[0]: missing required key 'listen'");
}

}  // namespace
}  // namespace lb::conf

namespace lb::conf {
namespace {

TEST(ConfigLoader, DnsNamesAndDiscovery) {
    Config config = load_ok(yaml(R"(
global:
  resolver: { nameservers: ["127.0.0.1:5353", "10.0.0.2"], timeout: 500ms, attempts: 3, hold: 1m, min_ttl: 2s, max_ttl: 10m }
listeners:
  - name: web
    listen: 127.0.0.1:8080
    default_action: { forward: { target_group: web } }
target_groups:
  - name: web
    targets:
      - { address: Web.Internal., port: 3000, zone: a }
      - { address: 10.0.0.9, port: 3000 }
  - name: app
    discovery: { srv: _http._tcp.app.service.consul, refresh: 10s }
)"));
    const Resolver& resolver = config.global.resolver;
    ASSERT_EQ(resolver.nameservers.size(), 2u);
    EXPECT_EQ(resolver.nameservers[0].to_string(), "127.0.0.1:5353");
    EXPECT_EQ(resolver.nameservers[1].to_string(), "10.0.0.2:53");
    EXPECT_EQ(resolver.timeout, 500ms);
    EXPECT_EQ(resolver.attempts, 3);
    EXPECT_EQ(resolver.hold, 60s);
    EXPECT_EQ(resolver.min_ttl, 2s);
    EXPECT_EQ(resolver.max_ttl, 600s);
    const TargetGroup& web = config.target_groups[0];
    EXPECT_TRUE(web.discovered());
    EXPECT_TRUE(web.targets[0].is_name());
    EXPECT_EQ(web.targets[0].address, "Web.Internal.");
    EXPECT_EQ(web.targets[0].zone, "a");
    EXPECT_FALSE(web.targets[1].is_name());
    const TargetGroup& app = config.target_groups[1];
    EXPECT_TRUE(app.discovered());
    EXPECT_EQ(app.discovery.srv, "_http._tcp.app.service.consul");
    EXPECT_EQ(app.discovery.refresh, 10s);
    EXPECT_TRUE(app.targets.empty());
}

TEST(ConfigLoader, ResolverDefaultsToTheSystem) {
    Config config = load_ok(minimal);
    EXPECT_TRUE(config.global.resolver.nameservers.empty());
    EXPECT_EQ(config.global.resolver.hold, 300s);
    EXPECT_FALSE(config.target_groups[0].discovered());
}

}  // namespace
}  // namespace lb::conf

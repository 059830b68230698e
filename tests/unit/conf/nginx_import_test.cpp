// lb import-nginx: what each nginx directive becomes, the order of rules
// (checked by routing requests through the loaded config the way lb's
// first-match rules do), the report lines and the exit statuses.
#include "conf/nginx_import.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "conf/config_loader.h"
#include "conf/nginx_patterns.h"
#include "test_support.h"

namespace lb::conf {
namespace {

using testing::TempDir;

struct Imported {
    NginxImport result;
    Config config;
    std::string path;  // of nginx.conf
    // The report with the directory of the files cut off: "nginx.conf:3: ...".
    std::vector<std::string> report;
    bool reports(const std::string& part) const {
        return std::any_of(report.begin(), report.end(), [&](const std::string& l) { return l.find(part) != std::string::npos; });
    }
};

Imported import(TempDir& dir, const std::string& nginx_conf, bool load = true) {
    Imported out;
    out.path = dir.write("nginx.conf", nginx_conf);
    out.result = import_nginx(out.path);
    std::string prefix = dir.path().string() + "/";
    for (auto line : out.result.report) {
        if (line.rfind(prefix, 0) == 0) line = line.substr(prefix.size());
        out.report.push_back(line);
    }
    if (load && out.result.exit_status != 1) {
        auto loaded = testing::load(out.result.yaml, "out.yaml");
        EXPECT_TRUE(loaded.ok()) << loaded.error() << "\n" << out.result.yaml;
        if (loaded.ok()) out.config = std::move(loaded).value();
    }
    return out;
}

std::string report_text(const Imported& imported) {
    std::string out;
    for (const auto& line : imported.report) out += line + "\n";
    return out;
}

const Listener* listener(const Config& config, const std::string& name) {
    for (const auto& l : config.listeners)
        if (l.name == name) return &l;
    return nullptr;
}

const TargetGroup* group(const Config& config, const std::string& name) { return config.find_target_group(name); }

std::string describe(const Action& action) {
    switch (action.kind) {
        case Action::Kind::forward: {
            std::string out = "forward " + action.forward.target_groups.at(0).name;
            if (action.forward.path_rewrite.enabled())
                out += " " + action.forward.path_rewrite.prefix + "->" + action.forward.path_rewrite.replacement;
            return out;
        }
        case Action::Kind::redirect: {
            const RedirectAction& r = action.redirect;
            return "redirect " + std::to_string(r.status) + " " + r.protocol + "://" + r.host + ":" + r.port + r.path +
                   "?" + r.query;
        }
        case Action::Kind::fixed_response:
            return "fixed " + std::to_string(action.fixed_response.status) +
                   (action.fixed_response.body.empty() ? "" : " " + action.fixed_response.body);
    }
    return "?";
}

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
    return text;
}

// What lb does with a request: the first rule, by priority, whose conditions all match.
std::string route(const Config& config, const std::string& listener_name, const std::string& host,
                  const std::string& path, const std::string& client = "192.0.2.1") {
    const Listener* l = listener(config, listener_name);
    if (!l) return "no listener " + listener_name;
    auto address = SocketAddress::from_ip(client, 1);
    for (const Rule& rule : l->rules) {
        const Conditions& c = rule.conditions;
        auto any = [](const std::vector<std::string>& patterns, const std::string& text) {
            return std::any_of(patterns.begin(), patterns.end(),
                               [&](const std::string& p) { return nginx::wildcard_match(p, text); });
        };
        if (!c.host.empty() && !any(c.host, lower(host))) continue;
        if (!c.path.empty() && !any(c.path, path)) continue;
        if (!c.source_ip.empty() &&
            std::none_of(c.source_ip.begin(), c.source_ip.end(), [&](const Cidr& cidr) { return cidr.contains(*address); }))
            continue;
        return describe(rule.action);
    }
    return describe(l->default_action);
}

// ---------------------------------------------------------------- exit statuses

TEST(NginxImport, CompleteMappingExitsZero) {
    TempDir dir;
    auto out = import(dir, R"(events {}
http {
    server {
        listen 127.0.0.1:8080;
        location / {
            proxy_pass http://127.0.0.1:3000;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }
    }
}
)");
    EXPECT_EQ(out.result.exit_status, 0) << report_text(out);
    EXPECT_EQ(report_text(out), "nginx.conf:7: proxy_set_header: ignored (lb does this by default)\n"
                                "nginx.conf:8: proxy_set_header: ignored (lb does this by default)\n");
    ASSERT_EQ(out.config.listeners.size(), 1u);
    EXPECT_EQ(out.config.listeners[0].listen.to_string(), "127.0.0.1:8080");
    EXPECT_EQ(route(out.config, "http-127.0.0.1-8080", "a", "/x"), "forward 127.0.0.1-3000");
}

TEST(NginxImport, ApproximatedOrDroppedExitsTwoWithFileLineDirective) {
    TempDir dir;
    auto out = import(dir, "http {\n  gzip on;\n  server { listen 8080; location / { proxy_pass http://b:80; "
                           "proxy_send_timeout 5s; } }\n}\n");
    EXPECT_EQ(out.result.exit_status, 2);
    EXPECT_TRUE(out.reports("nginx.conf:2: gzip: not supported: lb does not compress responses")) << report_text(out);
    EXPECT_TRUE(out.reports("nginx.conf:3: proxy_send_timeout: approximated: ")) << report_text(out);
    EXPECT_FALSE(out.result.yaml.empty());
}

TEST(NginxImport, SyntaxErrorExitsOneWithFileLine) {
    TempDir dir;
    auto out = import(dir, "http {\n  server { listen 80 }\n}\n");
    EXPECT_EQ(out.result.exit_status, 1);
    EXPECT_TRUE(out.result.yaml.empty());
    EXPECT_EQ(out.result.error, out.path + ":2: unexpected \"}\": directive \"listen\" has no \";\"");
}

TEST(NginxImport, NothingToMapExitsOne) {
    TempDir dir;
    auto out = import(dir, "events { worker_connections 10; }\n");
    EXPECT_EQ(out.result.exit_status, 1);
    EXPECT_NE(out.result.error.find("nothing to map"), std::string::npos) << out.result.error;
}

TEST(NginxImport, UnreadableFileExitsOne) {
    NginxImport result = import_nginx("/nonexistent/nginx.conf");
    EXPECT_EQ(result.exit_status, 1);
    EXPECT_EQ(result.error, "/nonexistent/nginx.conf: cannot read: No such file or directory");
}

TEST(NginxImport, OutputIsDeterministic) {
    TempDir dir;
    const char* text = "http { upstream u { server a.internal:1; server b.internal:2; }\n"
                       "server { listen 80; server_name x.test *.x.test; location / { proxy_pass http://u; } } }\n";
    auto first = import(dir, text);
    auto second = import(dir, text);
    EXPECT_EQ(first.result.yaml, second.result.yaml);
    EXPECT_EQ(first.result.report, second.result.report);
}

// ---------------------------------------------------------------- location order

TEST(NginxImport, LocationsAreMatchedAsNginxMatchesThem) {
    TempDir dir;
    auto out = import(dir, R"(http {
  server {
    listen 80;
    location = /exact { proxy_pass http://127.0.0.1:3001; }
    location / { proxy_pass http://127.0.0.1:3002; }
    location /api/ { proxy_pass http://127.0.0.1:3003; }
    location /api/v2/ { proxy_pass http://127.0.0.1:3004; }
    location ^~ /static/ { proxy_pass http://127.0.0.1:3005; }
    location /static/deep/ { proxy_pass http://127.0.0.1:3006; }
    location ~ \.php$ { proxy_pass http://127.0.0.1:3007; }
    location ~* \.(jpg|png)$ { proxy_pass http://127.0.0.1:3008; }
    location ~ ^/api/v2/admin { proxy_pass http://127.0.0.1:3009; }
  }
}
)");
    ASSERT_NE(out.result.exit_status, 1) << out.result.error;
    auto at = [&](const std::string& path) { return route(out.config, "http-80", "h", path); };
    EXPECT_EQ(at("/exact"), "forward 127.0.0.1-3001");
    EXPECT_EQ(at("/exact/more"), "forward 127.0.0.1-3002");
    EXPECT_EQ(at("/anything"), "forward 127.0.0.1-3002");
    EXPECT_EQ(at("/a.php"), "forward 127.0.0.1-3007");
    EXPECT_EQ(at("/api/x"), "forward 127.0.0.1-3003");
    EXPECT_EQ(at("/api/x.php"), "forward 127.0.0.1-3007");      // a regex beats a plain prefix
    EXPECT_EQ(at("/api/v2/y"), "forward 127.0.0.1-3004");       // the longest prefix
    EXPECT_EQ(at("/api/v2/admin/z"), "forward 127.0.0.1-3009");
    EXPECT_EQ(at("/api/v2/admin/z.php"), "forward 127.0.0.1-3007");  // the first regex in file order
    EXPECT_EQ(at("/static/a.php"), "forward 127.0.0.1-3005");   // ^~ stops the regexes
    EXPECT_EQ(at("/static/deep/a.php"), "forward 127.0.0.1-3007");  // a longer plain prefix does not
    EXPECT_EQ(at("/static/deep/b"), "forward 127.0.0.1-3006");
    EXPECT_EQ(at("/img/x.png"), "forward 127.0.0.1-3008");
    EXPECT_EQ(at("/api"), "redirect 301 #{protocol}://#{host}:#{port}/api/?#{query}");  // nginx's slash redirect
    EXPECT_TRUE(out.reports("nginx.conf:11: location: approximated: lb matches paths case-sensitively"))
        << report_text(out);
}

TEST(NginxImport, WithoutARootLocationOtherPathsGet404) {
    TempDir dir;
    auto out = import(dir, "http { server { listen 80;\n location /a/ { proxy_pass http://127.0.0.1:1; }\n"
                           " location ~ ^/b { return 200 b; } } }\n");
    EXPECT_EQ(route(out.config, "http-80", "h", "/a/x"), "forward 127.0.0.1-1");
    EXPECT_EQ(route(out.config, "http-80", "h", "/bee"), "fixed 200 b");
    EXPECT_EQ(route(out.config, "http-80", "h", "/c"), "fixed 404");
}

TEST(NginxImport, RegexesThatAreNotWildcardsAreReported) {
    TempDir dir;
    auto out = import(dir, "http { server { listen 80;\n location / { return 200 root; }\n"
                           " location ~ ^/user/[0-9]+$ { return 200 user; } } }\n");
    EXPECT_EQ(out.result.exit_status, 2);
    EXPECT_TRUE(out.reports("nginx.conf:3: location: not supported: the regex cannot be written as lb path wildcards"))
        << report_text(out);
    EXPECT_EQ(route(out.config, "http-80", "h", "/user/12"), "fixed 200 root");
}

TEST(NginxImport, RegexTranslations) {
    using nginx::regex_to_wildcards;
    EXPECT_EQ(regex_to_wildcards("^/api/", false).patterns, std::vector<std::string>{"/api/*"});
    EXPECT_EQ(regex_to_wildcards("\\.php$", false).patterns, std::vector<std::string>{"/*.php"});
    EXPECT_EQ(regex_to_wildcards("^/exact$", false).patterns, std::vector<std::string>{"/exact"});
    EXPECT_EQ(regex_to_wildcards("^/v.+/x", false).patterns, std::vector<std::string>{"/v?*/x*"});
    EXPECT_EQ(regex_to_wildcards("\\.(gif|jpe?g)$", false).patterns,
              (std::vector<std::string>{"/*.gif", "/*.jpg", "/*.jpeg"}));
    EXPECT_EQ(regex_to_wildcards("/admin", false).patterns, (std::vector<std::string>{"/*/admin*", "/admin*"}));
    EXPECT_TRUE(regex_to_wildcards("\\.PHP$", true).case_approximated);
    EXPECT_FALSE(regex_to_wildcards("\\.123$", true).case_approximated);
    EXPECT_FALSE(regex_to_wildcards("^/a[bc]", false).error.empty());
    EXPECT_FALSE(regex_to_wildcards("^/(?<x>.*)", false).error.empty());
    EXPECT_FALSE(regex_to_wildcards("^/a\\d", false).error.empty());
    EXPECT_FALSE(regex_to_wildcards("^x", false).error.empty());  // no path starts with x
}

TEST(NginxImport, PrefixIntersections) {
    using nginx::intersect_prefix;
    EXPECT_EQ(intersect_prefix("/api/", "/*.php"), std::vector<std::string>{"/api/*.php"});
    EXPECT_EQ(intersect_prefix("/a.php", "/*.php"), (std::vector<std::string>{"/a.php*.php", "/a.php"}));
    EXPECT_EQ(intersect_prefix("/api/", "/api/v2/*"), std::vector<std::string>{"/api/v2/*"});
    EXPECT_EQ(intersect_prefix("/api/v2/", "/api/*"), std::vector<std::string>{"/api/v2/*"});
    EXPECT_TRUE(intersect_prefix("/static/", "/api/*").empty());
    EXPECT_EQ(intersect_prefix("/x", "/x"), std::vector<std::string>{"/x"});
}

// ---------------------------------------------------------------- servers and hosts

TEST(NginxImport, ServerNamesFollowNginxPrecedence) {
    TempDir dir;
    auto out = import(dir, R"(http {
  server { listen 80; server_name default.test; return 200 default; }
  server { listen 80; server_name *.example.com; return 200 wild-short; }
  server { listen 80; server_name *.api.example.com; return 200 wild-long; }
  server { listen 80; server_name www.example.*; return 200 trailing; }
  server { listen 80; server_name .example.org; return 200 dot; }
  server { listen 80; server_name exact.api.example.com WWW.Example.com; return 200 exact; }
  server { listen 80; server_name ~^(?<user>.+)\.example\.net$; return 200 regex; }
}
)");
    auto at = [&](const std::string& host) { return route(out.config, "http-80", host, "/"); };
    EXPECT_EQ(at("exact.api.example.com"), "fixed 200 exact");
    EXPECT_EQ(at("www.example.com"), "fixed 200 exact");     // exact beats both wildcards
    EXPECT_EQ(at("x.api.example.com"), "fixed 200 wild-long");
    EXPECT_EQ(at("x.example.com"), "fixed 200 wild-short");
    EXPECT_EQ(at("www.example.net"), "fixed 200 trailing");
    EXPECT_EQ(at("example.org"), "fixed 200 dot");
    EXPECT_EQ(at("a.example.org"), "fixed 200 dot");
    EXPECT_EQ(at("default.test"), "fixed 200 default");
    EXPECT_EQ(at("unknown.test"), "fixed 200 default");
    EXPECT_EQ(at("bob.example.net"), "fixed 200 default");
    EXPECT_TRUE(out.reports("nginx.conf:8: server_name: not supported: lb's host conditions are wildcards, not regexes"))
        << report_text(out);
}

TEST(NginxImport, DefaultServerFlagPicksTheDefaultAction) {
    TempDir dir;
    auto out = import(dir, "http {\n server { listen 80; server_name a.test; return 200 a; }\n"
                           " server { listen 80 default_server; server_name b.test; return 200 b; } }\n");
    EXPECT_EQ(route(out.config, "http-80", "a.test", "/"), "fixed 200 a");
    EXPECT_EQ(route(out.config, "http-80", "other", "/"), "fixed 200 b");
}

TEST(NginxImport, DualStackAndDefaultListen) {
    TempDir dir;
    auto out = import(dir, "http { server { listen 8080; listen [::]:8080; return 204; }\n"
                           " server { return 200 nolisten; } }\n");
    ASSERT_EQ(out.config.listeners.size(), 3u);
    EXPECT_EQ(out.config.listeners[0].name, "http-8080");
    EXPECT_EQ(out.config.listeners[1].name, "http-8080-ipv6");
    EXPECT_EQ(out.config.listeners[1].listen.to_string(), "[::]:8080");
    EXPECT_EQ(out.config.listeners[2].listen.to_string(), "0.0.0.0:80");  // nginx's default listen
}

TEST(NginxImport, SpecificAndWildcardAddressOfOnePortAreMerged) {
    TempDir dir;
    auto out = import(dir, "http {\n server { listen 80; return 200 any; }\n"
                           " server { listen 127.0.0.1:80; server_name local.test; return 200 local; } }\n");
    ASSERT_EQ(out.config.listeners.size(), 1u);
    EXPECT_EQ(route(out.config, "http-80", "local.test", "/"), "fixed 200 local");
    EXPECT_TRUE(out.reports("nginx.conf:3: listen: approximated: lb cannot listen on 127.0.0.1:80 and 0.0.0.0:80"))
        << report_text(out);
}

// ---------------------------------------------------------------- listener settings

TEST(NginxImport, NginxDefaultsAreWrittenOut) {
    TempDir dir;
    auto out = import(dir, "http { server { listen 80; location / { proxy_pass http://127.0.0.1:1; } } }\n");
    const Listener& l = out.config.listeners.at(0);
    EXPECT_EQ(l.max_body_size, 1024u * 1024);       // client_max_body_size 1m
    EXPECT_EQ(l.idle_timeout, std::chrono::seconds(75));   // keepalive_timeout 75s
    EXPECT_EQ(l.header_timeout, std::chrono::seconds(60)); // client_header_timeout 60s
    const TargetGroup& g = out.config.target_groups.at(0);
    EXPECT_EQ(g.connect_timeout, std::chrono::seconds(60));  // proxy_connect_timeout 60s
    EXPECT_TRUE(g.retry.connect_failure);                    // proxy_next_upstream error timeout
    EXPECT_TRUE(g.retry.timeout);
    // The Host nginx sends by default is proxy_pass's ($proxy_host).
    ASSERT_EQ(l.request_headers.set.size(), 1u);
    EXPECT_EQ(l.request_headers.set[0].name, "Host");
    EXPECT_EQ(l.request_headers.set[0].value, "127.0.0.1:1");
}

TEST(NginxImport, PerLocationLimitsTakeTheLargestAndAreReported) {
    TempDir dir;
    auto out = import(dir, "http { client_max_body_size 2m; keepalive_timeout 30s; client_header_timeout 10s;\n"
                           " server { listen 80;\n location /upload { client_max_body_size 100m; return 204; }\n"
                           " location / { return 204; } } }\n");
    const Listener& l = out.config.listeners.at(0);
    EXPECT_EQ(l.max_body_size, 100u * 1024 * 1024);
    EXPECT_EQ(l.idle_timeout, std::chrono::seconds(30));
    EXPECT_EQ(l.header_timeout, std::chrono::seconds(10));
    EXPECT_TRUE(out.reports("nginx.conf:1: client_max_body_size: approximated: lb has one max_body_size "
                            "(client_max_body_size) per listener; http-80 uses 100m"))
        << report_text(out);
}

TEST(NginxImport, ClientMaxBodySizeZeroIsNoLimit) {
    TempDir dir;
    auto out = import(dir, "http { server { listen 80; client_max_body_size 0; return 204; } }\n");
    EXPECT_EQ(out.config.listeners.at(0).max_body_size, 0u);
}

TEST(NginxImport, RealIpFromXForwardedFor) {
    TempDir dir;
    auto out = import(dir, "http { set_real_ip_from 10.0.0.0/8; set_real_ip_from 192.168.1.1;\n"
                           " real_ip_header X-Forwarded-For; real_ip_recursive on;\n"
                           " server { listen 80; return 204; } }\n");
    EXPECT_EQ(out.result.exit_status, 0) << report_text(out);
    const Listener& l = out.config.listeners.at(0);
    ASSERT_EQ(l.trusted_proxies.size(), 2u);
    EXPECT_EQ(l.trusted_proxies[0].to_string(), "10.0.0.0/8");
    EXPECT_FALSE(l.accept_proxy_protocol);
}

TEST(NginxImport, RealIpWithoutRecursiveIsApproximated) {
    TempDir dir;
    auto out = import(dir, "http { set_real_ip_from 10.0.0.0/8;\n real_ip_header X-Forwarded-For;\n"
                           " server { listen 80; return 204; } }\n");
    EXPECT_TRUE(out.reports("nginx.conf:2: real_ip_header: approximated: lb walks X-Forwarded-For")) << report_text(out);
}

TEST(NginxImport, ProxyProtocolListen) {
    TempDir dir;
    auto out = import(dir, "http { set_real_ip_from 10.1.0.0/16; real_ip_header proxy_protocol;\n"
                           " server { listen 80 proxy_protocol; return 204; } }\n");
    EXPECT_EQ(out.result.exit_status, 0) << report_text(out);
    const Listener& l = out.config.listeners.at(0);
    EXPECT_TRUE(l.accept_proxy_protocol);
    ASSERT_EQ(l.trusted_proxies.size(), 1u);
    EXPECT_EQ(l.trusted_proxies[0].to_string(), "10.1.0.0/16");
}

TEST(NginxImport, AllowAndDenyBecomeSourceIpRules) {
    TempDir dir;
    auto out = import(dir, "http { server { listen 80;\n location /admin { deny 10.0.0.1; allow 10.0.0.0/8; deny all;"
                           " return 200 admin; }\n location / { return 200 root; } } }\n");
    EXPECT_EQ(out.result.exit_status, 0) << report_text(out);
    EXPECT_EQ(route(out.config, "http-80", "h", "/admin", "10.0.0.1"), "fixed 403");
    EXPECT_EQ(route(out.config, "http-80", "h", "/admin", "10.2.3.4"), "fixed 200 admin");
    EXPECT_EQ(route(out.config, "http-80", "h", "/admin", "192.0.2.9"), "fixed 403");
    EXPECT_EQ(route(out.config, "http-80", "h", "/other", "192.0.2.9"), "fixed 200 root");
}

// ---------------------------------------------------------------- proxy_pass, headers, return

TEST(NginxImport, ProxyPassWithUriIsAPathRewrite) {
    TempDir dir;
    auto out = import(dir, "http { server { listen 80;\n location /old/ { proxy_pass http://127.0.0.1:9/new/; }\n"
                           " location /same/ { proxy_pass http://127.0.0.1:9/same/; } } }\n");
    EXPECT_EQ(route(out.config, "http-80", "h", "/old/x"), "forward 127.0.0.1-9 /old/->/new/");
    EXPECT_EQ(route(out.config, "http-80", "h", "/same/x"), "forward 127.0.0.1-9");
}

TEST(NginxImport, HttpsUpstreamIsAnHttpsGroupWithoutVerification) {
    TempDir dir;
    auto out = import(dir, "http { upstream secure { server 10.0.0.1:8443; }\n"
                           " server { listen 80; location / { proxy_pass https://secure; } } }\n");
    const TargetGroup* g = group(out.config, "secure");
    ASSERT_NE(g, nullptr);
    EXPECT_EQ(g->protocol, TargetProtocol::https);
    EXPECT_FALSE(g->tls.verify);  // nginx's proxy_ssl_verify off
}

TEST(NginxImport, ProxySetHeaderVariables) {
    TempDir dir;
    auto out = import(dir, R"(http { server { listen 80; location / {
    proxy_pass http://127.0.0.1:1;
    proxy_set_header Host $host;
    proxy_set_header X-Real-IP $remote_addr;
    proxy_set_header X-Request "$request_method $request_uri $request_id";
    proxy_set_header X-Empty "";
    proxy_set_header X-Odd $http_user_agent;
    proxy_set_header X-Forwarded-Proto https;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection "upgrade";
    proxy_hide_header X-Powered-By;
    add_header X-Frame-Options DENY always;
    add_header X-Plain yes;
} } }
)");
    const Listener& l = out.config.listeners.at(0);
    std::vector<std::pair<std::string, std::string>> set;
    for (const auto& h : l.request_headers.set) set.emplace_back(h.name, h.value);
    EXPECT_EQ(set, (std::vector<std::pair<std::string, std::string>>{
                       {"Host", "#{host}"},
                       {"X-Real-IP", "#{client_ip}"},
                       {"X-Request", "#{method} #{request_uri} #{request_id}"}}));
    EXPECT_EQ(l.request_headers.remove, std::vector<std::string>{"X-Empty"});
    EXPECT_EQ(l.response_headers.remove, std::vector<std::string>{"X-Powered-By"});
    ASSERT_EQ(l.response_headers.add.size(), 2u);
    EXPECT_EQ(l.response_headers.add[0].name, "X-Frame-Options");
    EXPECT_TRUE(out.reports("nginx.conf:7: proxy_set_header: not supported: lb has no counterpart of $http_user_agent"))
        << report_text(out);
    EXPECT_TRUE(out.reports("nginx.conf:8: proxy_set_header: approximated: lb sets X-Forwarded-Proto"));
    EXPECT_TRUE(out.reports("nginx.conf:9: proxy_set_header: ignored: lb passes WebSocket upgrades by itself"));
    EXPECT_TRUE(out.reports("nginx.conf:13: add_header: approximated: nginx adds it only to 200"));
    EXPECT_FALSE(out.reports("nginx.conf:12: add_header"));
}

TEST(NginxImport, HeadersLbCannotTakeAreReportedNotWritten) {
    TempDir dir;
    auto out = import(dir, R"(http { server { listen 80; location / {
    proxy_pass http://127.0.0.1:1;
    proxy_set_header X-Dup a;
    proxy_set_header X-Dup b;
    proxy_set_header Transfer-Encoding chunked;
    proxy_set_header X-Bad-Name: x;
    proxy_hide_header Connection;
    add_header Content-Length 0 always;
} } }
)");
    ASSERT_NE(out.result.exit_status, 1) << out.result.error;
    const Listener& l = out.config.listeners.at(0);
    ASSERT_EQ(l.request_headers.add.size(), 1u);  // nginx sends both: the second is an add
    EXPECT_EQ(l.request_headers.add[0].value, "b");
    EXPECT_TRUE(out.reports("nginx.conf:5: proxy_set_header: not supported: lb writes the framing")) << report_text(out);
    EXPECT_TRUE(out.reports("nginx.conf:6: proxy_set_header: not supported: 'X-Bad-Name:' is not a valid header name"));
    EXPECT_TRUE(out.reports("nginx.conf:7: proxy_hide_header: not supported: 'Connection' is framing or hop-by-hop"));
    EXPECT_TRUE(out.reports("nginx.conf:8: add_header: not supported: 'Content-Length' is framing or hop-by-hop"));
}

// Inputs nginx takes that are easy to get wrong: the YAML must still load
// (an importer bug would exit 1 with "bug in the importer").
TEST(NginxImport, OddInputsNeverMakeYamlLbRefuses) {
    const char* configs[] = {
        "http { server { listen 80; server_name my_host.local _ \"\"; return 204; } }",
        "http { server { listen 80; location /a{b} { return 204; } location \"/sp ace\" { return 204; } } }",
        "http { server { listen 80; location ~ ^/x\\[1\\]$ { return 204; } } }",
        "http { server { listen 80; location / { proxy_pass http://127.0.0.1:1/a?b; } } }",
        "http { server { listen 80; return 301 https://[::1]/x; } }",
        "http { server { listen 80; return 302 http://a.test:99999/x; } }",
        "http { server { listen 80 default_server; listen 80; return 301 $scheme://$host$request_uri; } }",
        "http { server { listen 443 ssl; server_name a; return 301 https://$host$request_uri; } }",
        "http { upstream u { hash $cookie_a,b consistent; server 10.0.0.1; } server { listen 80;"
        " location / { proxy_pass http://u; } } }",
        "http { upstream u { server 10.0.0.1 fail_timeout=9h max_fails=1000; server 10.0.0.2; } server { listen 80;"
        " location / { proxy_pass http://u; proxy_next_upstream_timeout 5h; proxy_next_upstream_tries 50; } } }",
        "http { upstream u { server 0.0.0.0:80; server unix:/x.sock; } server { listen 80;"
        " location / { proxy_pass http://u; } } }",
        "http { server { listen 80; location / { proxy_pass http://0.0.0.0:80; } } }",
        "http { server { listen 80; location = / { return 200 \"a\"; } location / { return 200 b; } } }",
        "http { server { listen 80; location / { deny all; return 204; } } }",
        "http { server { listen 80; http2_max_concurrent_streams 0; large_client_header_buffers 1 1; return 204; } }",
        "stream { map $ssl_preread_server_name $b { hostnames; bad_name.test 10.0.0.1:1; .ok.test 10.0.0.2:1; }"
        " server { listen 443; ssl_preread on; proxy_pass $b; } }",
        "stream { server { listen 53 udp; proxy_pass 10.0.0.1:53; proxy_protocol on; } }",
        "http { server { listen 80; client_header_timeout 0; location / { proxy_pass http://127.0.0.1:1;"
        " proxy_read_timeout 0; proxy_set_header Host a; proxy_set_header Host b; } } }",
        "http { server { listen 80 so_keepalive=99999h:99999h:9; keepalive_timeout 99999999999y;"
        " client_max_body_size 99999999999g; return 204; } }",
        "stream { server { listen 5000; proxy_pass 10.0.0.1:1; proxy_timeout 0; proxy_connect_timeout 0; } }",
        "stream { server { listen 5000; proxy_pass 10.0.0.1:1; } server { listen 5000; proxy_pass 10.0.0.2:1; } }",
        "http { default_type \"a\\nb\"; server { listen 80; location /a { return 204 \"x\"; } location / {"
        " return 200 \"y\"; } } }",
        "http { server { listen 80; location / { proxy_pass http://127.0.0.1:1; proxy_next_upstream h http_200"
        " http_502 http_502; } } }",
    };
    for (const char* config : configs) {
        TempDir dir;
        std::string path = dir.write("nginx.conf", config);
        NginxImport result = import_nginx(path);
        EXPECT_EQ(result.error.find("bug"), std::string::npos) << config << "\n" << result.error;
        if (result.exit_status != 1) {
            auto loaded = testing::load(result.yaml, "out.yaml");
            EXPECT_TRUE(loaded.ok()) << config << "\n" << loaded.error();
        }
    }
}

TEST(NginxImport, HeaderEditsDifferingPerLocationStayOnTheirActions) {
    TempDir dir;
    auto out = import(dir, "http { server { listen 80;\n location /a { proxy_pass http://127.0.0.1:1; "
                           "proxy_set_header X-A 1; }\n location / { proxy_pass http://127.0.0.1:1; } } }\n");
    const Listener& l = out.config.listeners.at(0);
    EXPECT_TRUE(l.request_headers.empty());
    ASSERT_FALSE(l.rules.empty());
    EXPECT_EQ(l.rules.back().action.forward.request_headers.set.size(), 2u);  // Host and X-A
}

TEST(NginxImport, ReturnRedirectsAndFixedResponses) {
    TempDir dir;
    auto out = import(dir, R"(http { server { listen 80;
  location /https { return 301 https://$host$request_uri; }
  location /moved { return 302 /new; }
  location /other { return 308 http://example.com:8080/x$request_uri; }
  location /ping { return 200 "pong"; }
  location /gone { return 410; }
  location /drop { return 444; }
  location / { return https://example.com/; }
} }
)");
    auto at = [&](const std::string& path) { return route(out.config, "http-80", "h", path); };
    EXPECT_EQ(at("/https/a"), "redirect 301 HTTPS://#{host}:443/#{path}?#{query}");
    EXPECT_EQ(at("/moved"), "redirect 302 #{protocol}://#{host}:#{port}/new?");
    EXPECT_EQ(at("/other"), "redirect 308 HTTP://example.com:8080/x/#{path}?#{query}");
    EXPECT_EQ(at("/ping"), "fixed 200 pong");
    EXPECT_EQ(at("/gone"), "fixed 410");
    EXPECT_EQ(at("/drop"), "fixed 444");
    EXPECT_EQ(at("/x"), "redirect 302 HTTPS://example.com:443/?");
    EXPECT_TRUE(out.reports("nginx.conf:7: return: approximated: lb cannot close a connection")) << report_text(out);
}

TEST(NginxImport, StaticFilesAreReported) {
    TempDir dir;
    auto out = import(dir, "http { server { listen 80; root /srv;\n location /files/ { try_files $uri =404; }\n"
                           " location / { proxy_pass http://127.0.0.1:1; } } }\n");
    EXPECT_EQ(route(out.config, "http-80", "h", "/files/a"), "fixed 404");
    EXPECT_TRUE(out.reports("nginx.conf:2: location: not supported: lb does not serve files")) << report_text(out);
    EXPECT_TRUE(out.reports("nginx.conf:1: root: ignored: lb serves no files"));
}

TEST(NginxImport, UnknownDirectivesAreNotSupported) {
    TempDir dir;
    auto out = import(dir, "http { frobnicate on; server { listen 80; if ($x) { return 403; } return 204; } }\n");
    EXPECT_TRUE(out.reports("nginx.conf:1: frobnicate: not supported: lb has no equivalent")) << report_text(out);
    EXPECT_TRUE(out.reports("nginx.conf:1: if: not supported: lb has no conditional configuration"));
}

// ---------------------------------------------------------------- upstreams

TEST(NginxImport, UpstreamServersAndParameters) {
    TempDir dir;
    auto out = import(dir, R"(http {
  upstream app {
    least_conn;
    server 10.0.0.1:8080 weight=3;
    server 10.0.0.2 max_fails=1 fail_timeout=10s;
    server app.internal:8080 backup;
    server 10.0.0.4:8080 down;
    server 10.0.0.5:8080 max_fails=5;
    keepalive 32;
  }
  server { listen 80; location / { proxy_pass http://app; } }
}
)");
    const TargetGroup* g = group(out.config, "app");
    ASSERT_NE(g, nullptr);
    EXPECT_EQ(g->algorithm, Algorithm::least_connections);
    ASSERT_EQ(g->targets.size(), 4u);
    EXPECT_EQ(g->targets[0].weight, 3);
    EXPECT_EQ(g->targets[1].port, 80);  // nginx's default port
    EXPECT_EQ(g->targets[2].address, "app.internal");
    EXPECT_TRUE(g->targets[2].backup);
    EXPECT_EQ(g->passive_health.max_fails, 1);  // nginx's default, the most common here
    EXPECT_EQ(g->passive_health.fail_timeout, std::chrono::seconds(10));
    EXPECT_TRUE(out.reports("nginx.conf:7: server: ignored: a down server takes no traffic; it was left out"))
        << report_text(out);
    EXPECT_TRUE(out.reports("nginx.conf:8: server: approximated: lb counts failures per group"));
    EXPECT_TRUE(out.reports("nginx.conf:9: keepalive: ignored: lb pools target connections by itself"));
}

TEST(NginxImport, RepeatedServerIsOneTargetWithTheWeightsAdded) {
    TempDir dir;
    auto out = import(dir, "http { upstream u {\n server 10.0.0.1:80;\n server 10.0.0.1 weight=2;\n server 10.0.0.2; }\n"
                           " server { listen 80; location / { proxy_pass http://u; } } }\n");
    const TargetGroup* g = group(out.config, "u");
    ASSERT_NE(g, nullptr);
    ASSERT_EQ(g->targets.size(), 2u);
    EXPECT_EQ(g->targets[0].weight, 3);
    EXPECT_TRUE(out.reports("nginx.conf:3: server: approximated: the same address twice")) << report_text(out);
}

// nginx warns "load balancing method redefined" and keeps the last one; a
// hash key from an earlier method must not stay behind (lb would refuse a
// hash_key on least_connections: the fuzzer found it).
TEST(NginxImport, TheLastBalancingMethodWins) {
    TempDir dir;
    auto out = import(dir, R"(http {
  upstream a { ip_hash; least_conn; server 10.0.0.1:1; server 10.0.0.2:1; }
  upstream b { hash $cookie_io consistent; hash $request_uri; server 10.0.0.1:1; }
  upstream c { least_conn; ip_hash; server 10.0.0.1:1; }
  server { listen 80;
    location /a { proxy_pass http://a; } location /b { proxy_pass http://b; } location /c { proxy_pass http://c; } }
}
)");
    ASSERT_EQ(out.result.exit_status, 2) << report_text(out);
    const TargetGroup* a = group(out.config, "a");
    const TargetGroup* b = group(out.config, "b");
    const TargetGroup* c = group(out.config, "c");
    ASSERT_TRUE(a && b && c);
    EXPECT_EQ(a->algorithm, Algorithm::least_connections);
    EXPECT_EQ(b->algorithm, Algorithm::round_robin);
    EXPECT_EQ(c->algorithm, Algorithm::hash);
    EXPECT_TRUE(out.reports("nginx.conf:2: least_conn: approximated: a second balancing method")) << report_text(out);
    EXPECT_TRUE(out.reports("nginx.conf:3: hash: approximated: a second balancing method")) << report_text(out);
}

TEST(NginxImport, HashMethods) {
    TempDir dir;
    auto out = import(dir, R"(http {
  upstream a { ip_hash; server 10.0.0.1:1; server 10.0.0.2:1; }
  upstream b { hash $cookie_io consistent; server 10.0.0.1:1; }
  upstream c { hash $arg_sid; server 10.0.0.1:1; }
  upstream d { hash $http_x_user_id consistent; server 10.0.0.1:1; }
  upstream e { hash $request_uri consistent; server 10.0.0.1:1; }
  server { listen 80;
    location /a { proxy_pass http://a; } location /b { proxy_pass http://b; } location /c { proxy_pass http://c; }
    location /d { proxy_pass http://d; } location /e { proxy_pass http://e; } }
}
)");
    auto key = [&](const std::string& name) {
        const TargetGroup* g = group(out.config, name);
        if (!g) return std::string("missing");
        if (g->algorithm != Algorithm::hash) return std::string(to_string(g->algorithm));
        const HashKey& k = g->hash_key;
        switch (k.kind) {
            case HashKey::Kind::cookie: return "cookie:" + k.name;
            case HashKey::Kind::query: return "query:" + k.name;
            case HashKey::Kind::header: return "header:" + k.name;
            case HashKey::Kind::client_ip: return "client_ip/" + std::to_string(k.ipv4_prefix);
            case HashKey::Kind::none: return std::string("none");
        }
        return std::string("?");
    };
    EXPECT_EQ(key("a"), "client_ip/24");
    EXPECT_EQ(key("b"), "cookie:io");
    EXPECT_EQ(key("c"), "query:sid");
    EXPECT_EQ(key("d"), "header:x-user-id");
    EXPECT_EQ(key("e"), "round_robin");
    EXPECT_TRUE(out.reports("nginx.conf:4: hash: approximated: lb's hash is consistent")) << report_text(out);
    EXPECT_TRUE(out.reports("nginx.conf:6: hash: not supported: lb hashes a client address"));
}

TEST(NginxImport, ProxyNextUpstreamBecomesRetries) {
    TempDir dir;
    auto out = import(dir, R"(http {
  upstream api { server 10.0.0.1:1; server 10.0.0.2:1; }
  server { listen 80; location / {
    proxy_pass http://api;
    proxy_next_upstream error timeout http_502 http_503 non_idempotent;
    proxy_next_upstream_tries 2;
    proxy_next_upstream_timeout 10s;
    proxy_connect_timeout 3s;
    proxy_read_timeout 120s;
  } }
}
)");
    EXPECT_EQ(out.result.exit_status, 0) << report_text(out);
    const TargetGroup* g = group(out.config, "api");
    ASSERT_NE(g, nullptr);
    EXPECT_TRUE(g->retry.connect_failure);
    EXPECT_TRUE(g->retry.timeout);
    EXPECT_EQ(g->retry.statuses, (std::vector<int>{502, 503}));
    EXPECT_EQ(g->retry.tries, 2);
    EXPECT_EQ(g->retry.timeout_budget, std::chrono::seconds(10));
    EXPECT_TRUE(g->retry.non_idempotent);
    EXPECT_EQ(g->connect_timeout, std::chrono::seconds(3));
    EXPECT_EQ(g->response_timeout, std::chrono::seconds(120));
}

TEST(NginxImport, OneGroupUsedWithDifferentTimeoutsKeepsTheLongest) {
    TempDir dir;
    auto out = import(dir, "http { upstream u { server 10.0.0.1:1; }\n server { listen 80;\n"
                           " location /a { proxy_pass http://u; proxy_read_timeout 10s; }\n"
                           " location /b { proxy_pass http://u; proxy_read_timeout 5m; } } }\n");
    EXPECT_EQ(group(out.config, "u")->response_timeout, std::chrono::minutes(5));
    EXPECT_TRUE(out.reports("nginx.conf:4: proxy_read_timeout: approximated: target group u is also used at"))
        << report_text(out);
}

// ---------------------------------------------------------------- TLS

TEST(NginxImport, TlsServersShareOneListenerWithTheDefaultCertificateFirst) {
    TempDir dir;
    dir.write("a.pem", "x");
    dir.write("a.key", "x");
    dir.write("b.pem", "x");
    dir.write("b.key", "x");
    auto out = import(dir, R"(http {
  ssl_protocols TLSv1.3;
  server { listen 443 ssl; server_name a.test; ssl_certificate a.pem; ssl_certificate_key a.key; return 200 a; }
  server { listen 443 ssl http2 default_server; server_name b.test;
           ssl_certificate b.pem; ssl_certificate_key b.key; return 200 b; }
  server { listen 80; server_name a.test; return 301 https://$host$request_uri; }
}
)");
    EXPECT_EQ(out.result.exit_status, 0) << report_text(out);
    const Listener* https = listener(out.config, "https-443");
    ASSERT_NE(https, nullptr);
    ASSERT_EQ(https->tls->certificates.size(), 2u);
    EXPECT_EQ(https->tls->certificates[0].cert, (dir.path() / "b.pem").string());
    EXPECT_EQ(https->tls->certificates[1].key, (dir.path() / "a.key").string());
    EXPECT_EQ(https->tls->policy, "modern");
    EXPECT_EQ(https->http2.mode, Http2Mode::on);
    EXPECT_EQ(route(out.config, "https-443", "a.test", "/"), "fixed 200 a");
    EXPECT_EQ(route(out.config, "https-443", "x.test", "/"), "fixed 200 b");
    EXPECT_EQ(route(out.config, "http-80", "a.test", "/p"), "redirect 301 HTTPS://#{host}:443/#{path}?#{query}");
}

TEST(NginxImport, TlsWithoutHttp2AndOldProtocols) {
    TempDir dir;
    dir.write("c.pem", "x");
    dir.write("c.key", "x");
    auto out = import(dir, "http { ssl_protocols TLSv1 TLSv1.1 TLSv1.2;\n ssl_ciphers HIGH:!aNULL;\n"
                           " server { listen 443 ssl; ssl_certificate c.pem; ssl_certificate_key c.key; return 204; } }\n");
    const Listener& l = out.config.listeners.at(0);
    EXPECT_EQ(l.http2.mode, Http2Mode::off);  // nginx speaks HTTP/2 only when told to
    EXPECT_EQ(l.tls->policy, "compat");
    EXPECT_TRUE(out.reports("nginx.conf:1: ssl_protocols: approximated: lb speaks TLS 1.2 and 1.3 only")) << report_text(out);
    EXPECT_TRUE(out.reports("nginx.conf:2: ssl_ciphers: approximated: lb's compat policy"));
}

TEST(NginxImport, UnreadableCertificateIsKeptAndReported) {
    TempDir dir;
    // The importer checked the rest of the YAML; lb -t here would refuse the missing files.
    auto out = import(dir, "http { server { listen 443 ssl; ssl_certificate /nonexistent/c.pem;\n"
                           " ssl_certificate_key /nonexistent/c.key; return 204; } }\n", false);
    ASSERT_EQ(out.result.exit_status, 2) << out.result.error;
    EXPECT_NE(out.result.yaml.find("cert: /nonexistent/c.pem"), std::string::npos) << out.result.yaml;
    EXPECT_TRUE(out.reports("nginx.conf:1: ssl_certificate: cannot read /nonexistent/c.pem here")) << report_text(out);
    EXPECT_TRUE(out.reports("nginx.conf:2: ssl_certificate_key: cannot read /nonexistent/c.key here"));
}

// ---------------------------------------------------------------- stream

TEST(NginxImport, StreamTcpUdpAndSniRouting) {
    TempDir dir;
    auto out = import(dir, R"(stream {
  upstream dns { server 10.0.0.53:53; server 10.0.0.54:53; }
  upstream db { least_conn; server 10.0.0.10:5432; }
  upstream api_tls { server 10.0.1.20:443; }
  map $ssl_preread_server_name $backend {
    hostnames;
    api.example.com api_tls;
    *.example.com 10.0.1.30:443;
    default 10.0.1.40:443;
  }
  server { listen 53 udp; proxy_pass dns; proxy_timeout 20s; }
  server { listen 5432; proxy_pass db; proxy_protocol on; proxy_connect_timeout 2s; }
  server { listen 443; ssl_preread on; proxy_pass $backend; }
}
)");
    EXPECT_EQ(out.result.exit_status, 0) << report_text(out);
    const Listener* udp = listener(out.config, "udp-53");
    ASSERT_NE(udp, nullptr);
    EXPECT_EQ(udp->protocol, ListenerProtocol::udp);
    EXPECT_EQ(udp->udp.idle_timeout, std::chrono::seconds(20));
    EXPECT_EQ(group(out.config, "dns")->protocol, TargetProtocol::udp);
    const Listener* tcp = listener(out.config, "tcp-5432");
    ASSERT_NE(tcp, nullptr);
    EXPECT_EQ(tcp->proxy_protocol, ProxyProtocol::v1);
    EXPECT_EQ(tcp->idle_timeout, std::chrono::minutes(10));  // nginx's proxy_timeout default
    EXPECT_EQ(group(out.config, "db")->algorithm, Algorithm::least_connections);
    EXPECT_EQ(group(out.config, "db")->connect_timeout, std::chrono::seconds(2));
    const Listener* tls = listener(out.config, "tls-443");
    ASSERT_NE(tls, nullptr);
    EXPECT_EQ(tls->protocol, ListenerProtocol::tls_passthrough);
    EXPECT_EQ(route(out.config, "tls-443", "api.example.com", "/"), "forward api_tls");
    EXPECT_EQ(route(out.config, "tls-443", "www.example.com", "/"), "forward 10.0.1.30-443");
    EXPECT_EQ(route(out.config, "tls-443", "other.test", "/"), "forward 10.0.1.40-443");
}

TEST(NginxImport, StreamMapWithoutDefaultClosesConnections) {
    TempDir dir;
    auto out = import(dir, "stream { map $ssl_preread_server_name $b { a.test 10.0.0.1:443; }\n"
                           " server { listen 443; ssl_preread on; proxy_pass $b; } }\n");
    const Listener* tls = listener(out.config, "tls-443");
    ASSERT_NE(tls, nullptr);
    const TargetGroup* fallback = group(out.config, tls->default_action.forward.target_groups.at(0).name);
    ASSERT_NE(fallback, nullptr);
    EXPECT_TRUE(fallback->targets.empty());
}

TEST(NginxImport, StreamTlsTerminationIsNotSupported) {
    TempDir dir;
    auto out = import(dir, "stream { server { listen 993 ssl; proxy_pass 10.0.0.1:143; }\n"
                           " server { listen 25; proxy_pass 10.0.0.1:25; } }\n");
    EXPECT_EQ(out.result.exit_status, 2);
    EXPECT_TRUE(out.reports("nginx.conf:1: listen: not supported: lb does not terminate TLS for TCP")) << report_text(out);
    EXPECT_EQ(out.config.listeners.size(), 1u);
}

// ---------------------------------------------------------------- main context

TEST(NginxImport, MainContext) {
    TempDir dir;
    auto out = import(dir, "user www-data;\nworker_processes 4;\nworker_shutdown_timeout 10s;\npid /run/nginx.pid;\n"
                           "events { use epoll; }\nhttp { server { listen 80; return 204; } }\n");
    EXPECT_EQ(out.config.global.workers, 4);
    EXPECT_EQ(out.config.global.shutdown_timeout, std::chrono::seconds(10));
    EXPECT_TRUE(out.reports("nginx.conf:1: user: not supported: lb runs as the user that starts it")) << report_text(out);
    EXPECT_TRUE(out.reports("nginx.conf:4: pid: ignored: "));
    EXPECT_TRUE(out.reports("nginx.conf:5: use: ignored: lb uses io_uring"));
}

TEST(NginxImport, ClashingSocketsAndTheAdminPort) {
    TempDir dir;
    auto out = import(dir, "http { server { listen 9901; return 204; } }\n"
                           "stream { server { listen 53 udp; proxy_pass 10.0.0.1:53; }\n"
                           " server { listen 127.0.0.1:53 udp; proxy_pass 10.0.0.2:53; }\n"
                           " server { listen 53; proxy_pass 10.0.0.3:53; } }\n");
    ASSERT_EQ(out.config.listeners.size(), 3u);  // udp and tcp may share a port
    EXPECT_FALSE(out.config.global.admin.enabled);
    EXPECT_TRUE(out.reports("nginx.conf:1: listen: lb's admin API listens on 127.0.0.1:9901 by default")) << report_text(out);
    EXPECT_TRUE(out.reports("nginx.conf:3: listen: not supported: 127.0.0.1:53 is already taken by listener udp-53"));
}

TEST(NginxImport, NamesAreMadeValid) {
    TempDir dir;
    auto out = import(dir, "http { server { listen 80; location / { proxy_pass http://[::1]:8080; } } }\n");
    ASSERT_EQ(out.config.target_groups.size(), 1u);
    EXPECT_EQ(out.config.target_groups[0].name, "--1-8080");
    EXPECT_EQ(out.config.target_groups[0].targets.at(0).address, "::1");
}

}  // namespace
}  // namespace lb::conf

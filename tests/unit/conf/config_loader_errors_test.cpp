// One test per kind of config error, each pinning the whole message,
// position included: "file:line:col: key.path: message".
#include <gtest/gtest.h>

#include "conf/config_loader.h"
#include "test_support.h"

namespace lb::conf {
namespace {

using testing::load_error;
using testing::TempDir;
using testing::yaml;

// ---------------------------------------------------------------- YAML itself

TEST(ConfigErrors, YamlSyntaxErrorHasFileLineColumn) {
    EXPECT_EQ(load_error(yaml(R"(
listeners:
  - name: web
    listen: [127.0.0.1:80
)")),
              "lb.yaml:4:1: end of sequence flow not found");
}

TEST(ConfigErrors, UnquotedStarAddressGetsAHint) {
    EXPECT_EQ(load_error("listeners:\n  - { name: web, listen: *:80 }\n"),
              "lb.yaml:2:26: the referenced anchor is not defined (quote values that start with '*', like \"*:80\")");
}

// An error is one line: a control character the message quotes from the
// file is escaped (found by tests/fuzz/config_loader).
TEST(ConfigErrors, ControlCharactersQuotedFromTheFileAreEscaped) {
    EXPECT_EQ(load_error("listeners: \"a\\\x1b\"\n"), "lb.yaml:1:16: unknown escape character: \\x1b");
    EXPECT_EQ(load_error("listeners: \"\\\x7f\"\n"), "lb.yaml:1:15: unknown escape character: \\x7f");
}

// yaml-cpp 0.7 reads empty documents forever at a ',' outside any flow
// collection; YAML::LoadAll used to collect them until memory ran out (found
// by tests/fuzz/config_loader).
TEST(ConfigErrors, ACommaOutsideAnyCollectionIsAnErrorNotEndlessDocuments) {
    EXPECT_EQ(load_error(","), "lb.yaml:1:1: unexpected ',' (not valid YAML here)");
    EXPECT_EQ(load_error(", listeners: []\n"), "lb.yaml:1:1: unexpected ',' (not valid YAML here)");
}

TEST(ConfigErrors, EmptyFileHasNoListener) {
    EXPECT_EQ(load_error(""), "lb.yaml:1:1: at least one listener is required");
    EXPECT_EQ(load_error("# only a comment\n"), "lb.yaml:1:1: at least one listener is required");
}

TEST(ConfigErrors, NoListeners) {
    EXPECT_EQ(load_error("global: { workers: 2 }\n"), "lb.yaml:1:1: at least one listener is required");
    EXPECT_EQ(load_error("global: { workers: 2 }\nlisteners: []\n"),
              "lb.yaml:2:12: listeners: at least one listener is required");
}

TEST(ConfigErrors, OnlyOneDocument) {
    EXPECT_EQ(load_error(yaml(R"(
listeners: []
---
listeners: []
)")),
              "lb.yaml:3:1: only one YAML document is allowed");
}

TEST(ConfigErrors, RootMustBeAMapping) {
    EXPECT_EQ(load_error("- a\n- b\n"), "lb.yaml:1:1: expected a mapping, got a list");
}

// ---------------------------------------------------------------- keys and types

TEST(ConfigErrors, UnknownKeySuggestsTheClosestOne) {
    EXPECT_EQ(load_error(yaml(R"(
target_groups:
  - name: web
listeners:
  - name: main
    protcol: http
    listen: 127.0.0.1:8080
    default_action: { forward: { target_group: web } }
)")),
              "lb.yaml:5:5: listeners[0].protcol: unknown key 'protcol' (did you mean 'protocol'?)");
}

TEST(ConfigErrors, UnknownTopLevelKeyWithoutSuggestion) {
    EXPECT_EQ(load_error("frobnicate: 1\n"), "lb.yaml:1:1: frobnicate: unknown key 'frobnicate'");
    EXPECT_EQ(load_error("listener: []\n"), "lb.yaml:1:1: listener: unknown key 'listener' (did you mean 'listeners'?)");
}

TEST(ConfigErrors, UnknownKeyDeepInside) {
    EXPECT_EQ(load_error(yaml(R"(
target_groups:
  - name: web
    health_check:
      intervall: 10s
)")),
              "lb.yaml:4:7: target_groups[0].health_check.intervall: unknown key 'intervall' (did you mean 'interval'?)");
}

TEST(ConfigErrors, MergeKeysAreNotSupported) {
    EXPECT_EQ(load_error(yaml(R"(
target_groups:
  - &base { name: a }
  - <<: *base
)")),
              "lb.yaml:3:5: target_groups[1].<<: unknown key '<<' (YAML merge keys are not supported)");
}

TEST(ConfigErrors, DuplicateKey) {
    EXPECT_EQ(load_error(yaml(R"(
target_groups:
  - name: web
    name: other
)")),
              "lb.yaml:3:5: target_groups[0].name: duplicate key 'name' (first at line 2)");
}

TEST(ConfigErrors, WrongTypes) {
    EXPECT_EQ(load_error("global: 5\n"), "lb.yaml:1:9: global: expected a mapping, got '5'");
    EXPECT_EQ(load_error("listeners: { name: main }\n"), "lb.yaml:1:12: listeners: expected a list, got a mapping");
    EXPECT_EQ(load_error("global:\n  max_connections: lots\n"),
              "lb.yaml:2:20: global.max_connections: expected an integer, got 'lots'");
    EXPECT_EQ(load_error("global:\n  max_connections: [1]\n"),
              "lb.yaml:2:20: global.max_connections: expected an integer, got a list");
    EXPECT_EQ(load_error("global:\n  zone: { a: b }\n"), "lb.yaml:2:9: global.zone: expected a string, got a mapping");
    EXPECT_EQ(load_error("global:\n  admin: { enabled: maybe }\n"),
              "lb.yaml:2:21: global.admin.enabled: expected true or false, got 'maybe'");
}

TEST(ConfigErrors, EmptyValueIsBlamedOnItsKey) {
    // yaml-cpp marks an empty value at the next token; the key is what to fix.
    EXPECT_EQ(load_error("global:\n  zone:\n  workers: 2\n"), "lb.yaml:2:3: global.zone: expected a string, got nothing");
}

TEST(ConfigErrors, MissingRequiredKeyPointsAtTheParentMapping) {
    EXPECT_EQ(load_error(yaml(R"(
target_groups:
  - name: web
listeners:
  - name: main
    default_action: { forward: { target_group: web } }
)")),
              "lb.yaml:4:5: listeners[0]: missing required key 'listen'");
    EXPECT_EQ(load_error(yaml(R"(
target_groups:
  - name: web
    targets:
      - { port: 9001 }
)")),
              "lb.yaml:4:9: target_groups[0].targets[0]: missing required key 'address'");
}

// ---------------------------------------------------------------- values

TEST(ConfigErrors, BadDuration) {
    const char* base = "global:\n  shutdown_timeout: %s\n";
    auto with = [&](const char* value) {
        char text[200];
        std::snprintf(text, sizeof(text), base, value);
        return load_error(text);
    };
    EXPECT_EQ(with("10"), "lb.yaml:2:21: global.shutdown_timeout: invalid duration '10': use a number with ms, s, m, h or d");
    EXPECT_EQ(with("-5s"),
              "lb.yaml:2:21: global.shutdown_timeout: invalid duration '-5s': use a number with ms, s, m, h or d");
    EXPECT_EQ(with("soon"),
              "lb.yaml:2:21: global.shutdown_timeout: invalid duration 'soon': use a number with ms, s, m, h or d");
    EXPECT_EQ(with("99999999999999999999d"),
              "lb.yaml:2:21: global.shutdown_timeout: invalid duration '99999999999999999999d': use a number with ms, "
              "s, m, h or d");
}

TEST(ConfigErrors, DurationOutOfRange) {
    EXPECT_EQ(load_error(yaml(R"(
target_groups:
  - name: web
    deregistration_delay: 2h
)")),
              "lb.yaml:3:27: target_groups[0].deregistration_delay: must be between 0s and 1h");
    EXPECT_EQ(load_error(yaml(R"(
target_groups:
  - name: web
    stickiness: { type: lb_cookie, duration: 8d }
)")),
              "lb.yaml:3:46: target_groups[0].stickiness.duration: must be between 1s and 7d");
}

TEST(ConfigErrors, BadSize) {
    EXPECT_EQ(load_error(yaml(R"(
listeners:
  - name: main
    listen: 127.0.0.1:8080
    max_header_size: 64x
)")),
              "lb.yaml:4:22: listeners[0].max_header_size: invalid size '64x': use bytes or a number with k, m or g");
    EXPECT_EQ(load_error(yaml(R"(
listeners:
  - name: main
    listen: 127.0.0.1:8080
    max_header_size: 100
)")),
              "lb.yaml:4:22: listeners[0].max_header_size: must be between 1k and 1m");
    EXPECT_EQ(load_error(yaml(R"(
target_groups:
  - name: web
    receive_buffer: 1024
)")),
              "lb.yaml:3:21: target_groups[0].receive_buffer: must be between 4k and 256m");
}

TEST(ConfigErrors, IntegerOutOfRange) {
    EXPECT_EQ(load_error("global: { workers: 2000 }\n"),
              "lb.yaml:1:20: global.workers: must be auto or a number between 1 and 1024, got '2000'");
    EXPECT_EQ(load_error("global: { max_connections: 0 }\n"), "lb.yaml:1:28: global.max_connections: must be at least 1");
}

TEST(ConfigErrors, BadEnumValueListsTheChoices) {
    EXPECT_EQ(load_error(yaml(R"(
target_groups:
  - name: web
    algorithm: fastest
)")),
              "lb.yaml:3:16: target_groups[0].algorithm: must be round_robin, least_outstanding_requests, "
              "least_connections, weighted_random, source_ip_hash or hash, got 'fastest'");
}

// ---------------------------------------------------------------- rules

TEST(ConfigErrors, PathMustStartWithSlash) {
    EXPECT_EQ(load_error(yaml(R"(
target_groups:
  - name: web
listeners:
  - name: main
    listen: 127.0.0.1:8080
    rules:
      - priority: 10
        conditions: { path: /ping }
        action: { fixed_response: { body: pong } }
      - priority: 20
        conditions:
          path:
            - api/*
        action: { forward: { target_group: web } }
    default_action: { forward: { target_group: web } }
)")),
              "lb.yaml:13:15: listeners[0].rules[1].conditions.path[0]: must start with '/'");
}

TEST(ConfigErrors, BadWildcard) {
    EXPECT_EQ(load_error(yaml(R"(
target_groups:
  - name: web
listeners:
  - name: main
    listen: 127.0.0.1:8080
    rules:
      - priority: 1
        conditions: { host: ["api.[x].com"] }
        action: { forward: { target_group: web } }
    default_action: { forward: { target_group: web } }
)")),
              "lb.yaml:8:30: listeners[0].rules[0].conditions.host[0]: only '*' and '?' are wildcards; '[' is not "
              "allowed");
}

TEST(ConfigErrors, BadHostCharacterAsScalarShorthand) {
    EXPECT_EQ(load_error(yaml(R"(
target_groups:
  - name: web
listeners:
  - name: main
    listen: 127.0.0.1:8080
    rules:
      - priority: 1
        conditions: { host: api_v2.example.com }
        action: { forward: { target_group: web } }
    default_action: { forward: { target_group: web } }
)")),
              "lb.yaml:8:29: listeners[0].rules[0].conditions.host: host may only contain letters, digits, '-', '.', "
              "'*' and '?'; '_' is not allowed");
}

TEST(ConfigErrors, HeaderAndQueryAndMethodConditions) {
    auto rule_with = [](const std::string& conditions) {
        return load_error(
            "target_groups: [{ name: web }]\n"
            "listeners:\n"
            "  - name: main\n"
            "    listen: 127.0.0.1:8080\n"
            "    rules:\n"
            "      - priority: 1\n"
            "        action: { forward: { target_group: web } }\n"
            "        conditions: " +
            conditions +
            "\n"
            "    default_action: { forward: { target_group: web } }\n");
    };
    // "        conditions: " is 20 columns wide.
    EXPECT_EQ(rule_with("{ header: { \"X Bad\": [a] } }"),
              "lb.yaml:8:33: listeners[0].rules[0].conditions.header.X Bad: 'X Bad' is not a valid header name");
    EXPECT_EQ(rule_with("{ query: { v: [\"a=b\"] } }"),
              "lb.yaml:8:36: listeners[0].rules[0].conditions.query.v[0]: must not contain whitespace, '&', '=' or "
              "'#'");
    EXPECT_EQ(rule_with("{ method: [GET, \"PO ST\"] }"),
              "lb.yaml:8:37: listeners[0].rules[0].conditions.method[1]: 'PO ST' is not an HTTP method");
    EXPECT_EQ(rule_with("{ header: {} }"), "lb.yaml:8:31: listeners[0].rules[0].conditions.header: needs at least one header");
    EXPECT_EQ(rule_with("{ path: [] }"), "lb.yaml:8:29: listeners[0].rules[0].conditions.path: needs at least one value");
    EXPECT_EQ(rule_with("{}"), "lb.yaml:8:21: listeners[0].rules[0].conditions: at least one condition is required");
    EXPECT_EQ(rule_with("{ source_ip: [10.0.0.0/8, \"2001:db8::/129\"] }"),
              "lb.yaml:8:47: listeners[0].rules[0].conditions.source_ip[1]: invalid CIDR '2001:db8::/129'");
}

TEST(ConfigErrors, DuplicatePriorityNamesTheFirstRule) {
    EXPECT_EQ(load_error(yaml(R"(
target_groups:
  - name: web
listeners:
  - name: main
    listen: 127.0.0.1:8080
    rules:
      - priority: 10
        conditions: { path: /a }
        action: { forward: { target_group: web } }
      - priority: 10
        conditions: { path: /b }
        action: { forward: { target_group: web } }
    default_action: { forward: { target_group: web } }
)")),
              "lb.yaml:10:19: listeners[0].rules[1].priority: priority 10 is already used by the rule at line 7");
}

TEST(ConfigErrors, PriorityRange) {
    EXPECT_EQ(load_error(yaml(R"(
target_groups: [{ name: web }]
listeners:
  - name: main
    listen: 127.0.0.1:8080
    rules:
      - { priority: 0, conditions: { path: /a }, action: { forward: { target_group: web } } }
    default_action: { forward: { target_group: web } }
)")),
              "lb.yaml:6:21: listeners[0].rules[0].priority: must be between 1 and 50000");
}

TEST(ConfigErrors, RulesNotOnTcpOrUdp) {
    EXPECT_EQ(load_error(yaml(R"(
target_groups: [{ name: t, protocol: tcp }]
listeners:
  - name: game
    protocol: tcp
    listen: 0.0.0.0:7000
    rules: []
    default_action: { forward: { target_group: t } }
)")),
              "lb.yaml:6:5: listeners[0].rules: rules are not supported on tcp listeners");
}

TEST(ConfigErrors, ClientLimits) {
    auto listener = [](const std::string& protocol, const std::string& limits) {
        return load_error("target_groups: [{ name: t, protocol: " + std::string(protocol == "udp" ? "udp" : protocol == "tcp" ? "tcp" : "http") +
                          " }]\nlisteners:\n  - name: l\n    protocol: " + protocol +
                          "\n    listen: 127.0.0.1:7000\n    client_limits: " + limits +
                          "\n    default_action: { forward: { target_group: t } }\n");
    };
    EXPECT_EQ(listener("tcp", "{ request_rate: { per_second: 5 } }"),
              "lb.yaml:6:22: listeners[0].client_limits.request_rate: request_rate only applies to http and https "
              "listeners");
    EXPECT_EQ(listener("udp", "{ connections: 5 }"),
              "lb.yaml:6:5: listeners[0].client_limits: client_limits does not apply to udp listeners (see "
              "udp.max_flows)");
    EXPECT_EQ(listener("http", "{ connection_rate: { burst: 5 } }"),
              "lb.yaml:6:39: listeners[0].client_limits.connection_rate: missing required key 'per_second'");
    EXPECT_EQ(listener("http", "{ request_rate: { per_second: 0 } }"),
              "lb.yaml:6:50: listeners[0].client_limits.request_rate.per_second: must be between 1 and 1000000");
    EXPECT_EQ(listener("http", "{ connections: -1 }"),
              "lb.yaml:6:35: listeners[0].client_limits.connections: must be between 0 and 1000000");
    EXPECT_EQ(listener("http", "{ requests: 5 }"),
              "lb.yaml:6:22: listeners[0].client_limits.requests: unknown key 'requests'");
}

TEST(ConfigErrors, TlsPassthroughRulesOnlyMatchHost) {
    EXPECT_EQ(load_error(yaml(R"(
target_groups: [{ name: t, protocol: tcp }]
listeners:
  - name: sni
    protocol: tls_passthrough
    listen: 0.0.0.0:8443
    rules:
      - priority: 1
        conditions: { host: a.example.com, path: /x }
        action: { forward: { target_group: t } }
    default_action: { forward: { target_group: t } }
)")),
              "lb.yaml:8:44: listeners[0].rules[0].conditions.path: only host conditions are supported on "
              "tls_passthrough listeners");
}

// ---------------------------------------------------------------- actions

TEST(ConfigErrors, UnknownTargetGroup) {
    EXPECT_EQ(load_error(yaml(R"(
target_groups:
  - name: web
listeners:
  - name: main
    listen: 127.0.0.1:8080
    default_action: { forward: { target_group: webb } }
)")),
              "lb.yaml:6:48: listeners[0].default_action.forward.target_group: unknown target group 'webb' (did you "
              "mean 'web'?)");
    EXPECT_EQ(load_error(yaml(R"(
target_groups:
  - name: web
listeners:
  - name: main
    listen: 127.0.0.1:8080
    default_action:
      forward:
        target_groups: [{ name: web, weight: 1 }, { name: ghost, weight: 2 }]
)")),
              "lb.yaml:8:59: listeners[0].default_action.forward.target_groups[1].name: unknown target group 'ghost'");
}

TEST(ConfigErrors, ProtocolMismatchNamesBoth) {
    EXPECT_EQ(load_error(yaml(R"(
target_groups:
  - name: web
listeners:
  - name: game
    protocol: tcp
    listen: 0.0.0.0:7000
    default_action: { forward: { target_group: web } }
)")),
              "lb.yaml:7:48: listeners[0].default_action.forward.target_group: tcp listener 'game' cannot forward to "
              "http target group 'web'");
    EXPECT_EQ(load_error(yaml(R"(
target_groups:
  - name: dns
    protocol: udp
listeners:
  - name: web
    listen: 0.0.0.0:80
    default_action: { forward: { target_group: dns } }
)")),
              "lb.yaml:7:48: listeners[0].default_action.forward.target_group: http listener 'web' cannot forward to "
              "udp target group 'dns'");
}

TEST(ConfigErrors, ActionNeedsExactlyOneKind) {
    auto with_action = [](const std::string& action) {
        return load_error("target_groups: [{ name: web }]\nlisteners:\n  - name: main\n    listen: 127.0.0.1:8080\n"
                          "    default_action: " + action + "\n");
    };
    EXPECT_EQ(with_action("{}"),
              "lb.yaml:5:21: listeners[0].default_action: needs one of forward, redirect or fixed_response");
    EXPECT_EQ(with_action("{ forward: { target_group: web }, fixed_response: {} }"),
              "lb.yaml:5:55: listeners[0].default_action.fixed_response: only one of forward, redirect or "
              "fixed_response is allowed");
    EXPECT_EQ(with_action("{ forward: {} }"),
              "lb.yaml:5:32: listeners[0].default_action.forward: needs target_group or target_groups");
    EXPECT_EQ(with_action("{ forward: { target_groups: [{ name: web, weight: 0 }] } }"),
              "lb.yaml:5:49: listeners[0].default_action.forward.target_groups: at least one target group needs a "
              "weight above 0");
    EXPECT_EQ(with_action("{ forward: { target_groups: [web, web] } }"),
              "lb.yaml:5:55: listeners[0].default_action.forward.target_groups[1]: target group 'web' is listed twice");
    EXPECT_EQ(with_action("{ forward: { target_groups: [{ name: web, weight: 1000 }] } }"),
              "lb.yaml:5:71: listeners[0].default_action.forward.target_groups[0].weight: must be between 0 and 999");
}

TEST(ConfigErrors, RedirectThatChangesNothingWouldLoop) {
    auto with_redirect = [](const std::string& redirect) {
        return load_error("listeners:\n  - name: main\n    listen: 127.0.0.1:8080\n"
                          "    default_action: { redirect: " + redirect + " }\n");
    };
    EXPECT_EQ(with_redirect("{ status: 302 }"),
              "lb.yaml:4:33: listeners[0].default_action.redirect: redirect to the same URL would loop; change "
              "protocol, host, port, path or query");
    // The listener's own scheme and port are no change either.
    EXPECT_EQ(with_redirect("{ protocol: http, port: 8080 }"),
              "lb.yaml:4:33: listeners[0].default_action.redirect: redirect to the same URL would loop; change "
              "protocol, host, port, path or query");
    EXPECT_EQ(with_redirect("{ protocol: ftp }"),
              "lb.yaml:4:45: listeners[0].default_action.redirect.protocol: must be HTTP, HTTPS or #{protocol}, got "
              "'ftp'");
    EXPECT_EQ(with_redirect("{ protocol: HTTPS, status: 305 }"),
              "lb.yaml:4:60: listeners[0].default_action.redirect.status: must be 301, 302, 303, 307 or 308, got '305'");
    EXPECT_EQ(with_redirect("{ path: \"new/#{path}\" }"),
              "lb.yaml:4:41: listeners[0].default_action.redirect.path: must start with '/'");
    EXPECT_EQ(with_redirect("{ path: \"/#{uri}\" }"),
              "lb.yaml:4:41: listeners[0].default_action.redirect.path: unknown placeholder '#{uri}': use #{protocol}, "
              "#{host}, #{port}, #{path} or #{query}");
    EXPECT_EQ(with_redirect("{ port: 0 }"),
              "lb.yaml:4:41: listeners[0].default_action.redirect.port: must be between 1 and 65535");
}

TEST(ConfigErrors, RedirectAndFixedResponseOnlyOnHttp) {
    EXPECT_EQ(load_error(yaml(R"(
listeners:
  - name: game
    protocol: tcp
    listen: 0.0.0.0:7000
    default_action: { fixed_response: { status: 503 } }
)")),
              "lb.yaml:5:23: listeners[0].default_action.fixed_response: fixed_response is only supported on http and "
              "https listeners");
}

TEST(ConfigErrors, FixedResponseLimits) {
    std::string big(64 * 1024 + 1, 'x');
    EXPECT_EQ(load_error("listeners:\n  - name: main\n    listen: 127.0.0.1:8080\n"
                         "    default_action: { fixed_response: { body: " + big + " } }\n"),
              "lb.yaml:4:47: listeners[0].default_action.fixed_response.body: must be at most 64k (is 65537 bytes)");
    EXPECT_EQ(load_error("listeners:\n  - name: main\n    listen: 127.0.0.1:8080\n"
                         "    default_action: { fixed_response: { status: 700 } }\n"),
              "lb.yaml:4:49: listeners[0].default_action.fixed_response.status: must be between 200 and 599");
}

TEST(ConfigErrors, ForwardStickinessNeedsHttp) {
    EXPECT_EQ(load_error(yaml(R"(
target_groups: [{ name: t, protocol: tcp }]
listeners:
  - name: game
    protocol: tcp
    listen: 0.0.0.0:7000
    default_action: { forward: { target_group: t, stickiness: { duration: 1h } } }
)")),
              "lb.yaml:6:51: listeners[0].default_action.forward.stickiness: stickiness needs an http or https "
              "listener (it is a cookie)");
}

// ---------------------------------------------------------------- listeners

TEST(ConfigErrors, BadListenAddress) {
    EXPECT_EQ(load_error("listeners:\n  - { name: a, listen: example.com:80 }\n"),
              "lb.yaml:2:24: listeners[0].listen: invalid address 'example.com:80': use ip:port, [ipv6]:port or *:port");
    EXPECT_EQ(load_error("listeners:\n  - { name: a, listen: \"0.0.0.0:0\" }\n"),
              "lb.yaml:2:24: listeners[0].listen: port must be between 1 and 65535");
}

TEST(ConfigErrors, ListenersMayNotShareAnAddress) {
    EXPECT_EQ(load_error(yaml(R"(
listeners:
  - name: a
    listen: 0.0.0.0:80
    default_action: { fixed_response: {} }
  - name: b
    listen: 0.0.0.0:80
    default_action: { fixed_response: {} }
)")),
              "lb.yaml:6:13: listeners[1].listen: 0.0.0.0:80 is already used by listener 'a' (line 2)");
    EXPECT_EQ(load_error(yaml(R"(
listeners:
  - name: a
    listen: "*:80"
    default_action: { fixed_response: {} }
  - name: b
    listen: 127.0.0.1:80
    default_action: { fixed_response: {} }
)")),
              "lb.yaml:6:13: listeners[1].listen: 127.0.0.1:80 overlaps 0.0.0.0:80 of listener 'a' (line 2)");
}

TEST(ConfigErrors, DuplicateListenerName) {
    EXPECT_EQ(load_error(yaml(R"(
listeners:
  - name: a
    listen: 0.0.0.0:80
    default_action: { fixed_response: {} }
  - name: a
    listen: 0.0.0.0:81
    default_action: { fixed_response: {} }
)")),
              "lb.yaml:5:11: listeners[1].name: listener 'a' is already defined at line 2");
}

TEST(ConfigErrors, TlsKeyBelongsToHttpsOnly) {
    EXPECT_EQ(load_error(yaml(R"(
listeners:
  - name: a
    listen: 0.0.0.0:80
    tls: { certificates: [] }
    default_action: { fixed_response: {} }
)")),
              "lb.yaml:4:5: listeners[0].tls: tls is only allowed on https listeners");
    EXPECT_EQ(load_error(yaml(R"(
listeners:
  - name: a
    protocol: https
    listen: 0.0.0.0:443
    default_action: { fixed_response: {} }
)")),
              "lb.yaml:2:5: listeners[0]: missing required key 'tls'");
    EXPECT_EQ(load_error(yaml(R"(
listeners:
  - name: a
    protocol: https
    listen: 0.0.0.0:443
    tls: { certificates: [] }
    default_action: { fixed_response: {} }
)")),
              "lb.yaml:5:26: listeners[0].tls.certificates: needs at least one certificate");
}

// The error of one listener of `protocol` with `extra` (one line of keys).
std::string listener_error(const std::string& protocol, const std::string& extra) {
    return load_error("listeners:\n  - name: a\n    protocol: " + protocol + "\n    listen: 0.0.0.0:80\n    " + extra +
                      "\n    default_action: { fixed_response: {} }\n");
}

TEST(ConfigErrors, ProtocolSpecificListenerKeys) {
    auto listener = listener_error;
    EXPECT_EQ(listener("http", "proxy_protocol: v2"),
              "lb.yaml:5:5: listeners[0].proxy_protocol: proxy_protocol is only supported on tcp and tls_passthrough "
              "listeners");
    EXPECT_EQ(listener("http", "udp: { max_flows: 10 }"),
              "lb.yaml:5:5: listeners[0].udp: udp settings only apply to udp listeners");
    EXPECT_EQ(listener("udp", "idle_timeout: 10s"),
              "lb.yaml:5:5: listeners[0].idle_timeout: use udp.idle_timeout on udp listeners");
    EXPECT_EQ(listener("tcp", "max_body_size: 1m"),
              "lb.yaml:5:5: listeners[0].max_body_size: max_body_size only applies to http and https listeners");
    EXPECT_EQ(listener("http", "accept_proxy_protocol: true"),
              "lb.yaml:5:28: listeners[0].accept_proxy_protocol: accept_proxy_protocol needs trusted_proxies (who may "
              "send the PROXY header)");
    EXPECT_EQ(listener("http", "allow: []"),
              "lb.yaml:5:12: listeners[0].allow: needs at least one CIDR (leave allow out to accept everyone)");
    EXPECT_EQ(listener("tcp", "tcp_keepalive: { idle: 1500ms }"),
              "lb.yaml:5:28: listeners[0].tcp_keepalive.idle: must be a whole number of seconds");
}

TEST(ConfigErrors, TrustedProxiesOnlyWhereSomethingIsTrusted) {
    auto listener = listener_error;
    // Without a PROXY header a tcp listener has nothing to believe a proxy about.
    EXPECT_EQ(listener("tcp", "trusted_proxies: [10.0.0.0/8]"),
              "lb.yaml:5:5: listeners[0].trusted_proxies: trusted_proxies on tcp listeners only applies with "
              "accept_proxy_protocol: true");
    EXPECT_EQ(listener("udp", "trusted_proxies: [10.0.0.0/8]"),
              "lb.yaml:5:5: listeners[0].trusted_proxies: trusted_proxies does not apply to udp listeners");
    EXPECT_EQ(listener("http", "trusted_proxies: []"),
              "lb.yaml:5:22: listeners[0].trusted_proxies: needs at least one CIDR");
    EXPECT_EQ(listener("tcp", "header_timeout: 5s"),
              "lb.yaml:5:5: listeners[0].header_timeout: header_timeout only applies to http, https and "
              "tls_passthrough listeners (and tcp listeners with accept_proxy_protocol: true)");
}

TEST(ConfigErrors, TcpListenerReadingProxyHeadersTakesHeaderTimeout) {
    auto config = testing::load(yaml(R"(
target_groups: [{ name: t, protocol: tcp }]
listeners:
  - name: a
    protocol: tcp
    listen: 0.0.0.0:80
    accept_proxy_protocol: true
    trusted_proxies: [10.0.0.0/8]
    header_timeout: 2s
    default_action: { forward: { target_group: t } }
)"),
                                     "lb.yaml");
    ASSERT_TRUE(config.ok()) << config.error();
    EXPECT_EQ(config->listeners[0].header_timeout, std::chrono::seconds(2));
}

TEST(ConfigErrors, BadCidrInAllow) {
    EXPECT_EQ(load_error(yaml(R"(
target_groups: [{ name: web }]
listeners:
  - name: main
    listen: 127.0.0.1:8080
    allow: [10.0.0.0/8, 10.0.0.0/33]
    default_action: { forward: { target_group: web } }
)")),
              "lb.yaml:5:25: listeners[0].allow[1]: invalid CIDR '10.0.0.0/33'");
}

TEST(ConfigErrors, BadTimeoutOnListener) {
    EXPECT_EQ(load_error(yaml(R"(
target_groups: [{ name: web }]
listeners:
  - name: main
    listen: 127.0.0.1:8080
    idle_timeout: 10
    default_action: { forward: { target_group: web } }
)")),
              "lb.yaml:5:19: listeners[0].idle_timeout: invalid duration '10': use a number with ms, s, m, h or d");
}

// ---------------------------------------------------------------- global

TEST(ConfigErrors, NonLoopbackAdminNeedsAToken) {
    EXPECT_EQ(load_error("global:\n  admin: { listen: 0.0.0.0:9901 }\n"),
              "lb.yaml:2:20: global.admin.listen: a non-loopback admin address needs token_file");
}

TEST(ConfigErrors, ListenerMayNotTakeTheAdminAddress) {
    EXPECT_EQ(load_error("listeners:\n  - { name: a, listen: \"*:9901\", default_action: { fixed_response: {} } }\n"),
              "lb.yaml:2:24: listeners[0].listen: 0.0.0.0:9901 overlaps the admin address 127.0.0.1:9901");
}

TEST(ConfigErrors, FilesMustExistAndBeReadable) {
    TempDir dir;
    std::string name = (dir.path() / "lb.yaml").string();
    auto result = testing::load("global:\n  sticky_secret_file: secrets/sticky.key\n", name);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error(), name + ":2:23: global.sticky_secret_file: cannot read '" + dir.path().string() +
                                  "/secrets/sticky.key': No such file or directory");

    std::filesystem::create_directories(dir.path() / "certs");
    result = testing::load(yaml(R"(
listeners:
  - name: a
    protocol: https
    listen: 0.0.0.0:443
    tls: { certificates: [{ cert: certs, key: a.key }] }
    default_action: { fixed_response: {} }
)"),
                                name);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error(), name + ":5:35: listeners[0].tls.certificates[0].cert: '" + dir.path().string() +
                                  "/certs' is a directory, not a file");
}

TEST(ConfigErrors, MissingFileIsReportedByName) {
    auto result = load_config_file("/nonexistent/lb.yaml");
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error(), "/nonexistent/lb.yaml: cannot read: No such file or directory");
}

// ---------------------------------------------------------------- target groups

TEST(ConfigErrors, DuplicateTargetGroupName) {
    EXPECT_EQ(load_error(yaml(R"(
target_groups:
  - name: web
  - name: web
)")),
              "lb.yaml:3:11: target_groups[1].name: target group 'web' is already defined at line 2");
}

TEST(ConfigErrors, TargetAddressMustBeAnIpOrADnsName) {
    auto target = [](const std::string& body) {
        return load_error("target_groups:\n  - name: web\n    targets:\n      - " + body + "\n");
    };
    EXPECT_EQ(target("{ address: backend..local, port: 80 }"),
              "lb.yaml:4:20: target_groups[0].targets[0].address: must be an IPv4 or IPv6 address or a DNS name, got "
              "'backend..local': has an empty label");
    EXPECT_EQ(target("{ address: \"app/1\", port: 80 }"),
              "lb.yaml:4:20: target_groups[0].targets[0].address: must be an IPv4 or IPv6 address or a DNS name, got "
              "'app/1': may only contain letters, digits, '-', '_' and '.'; '/' is not allowed");
    EXPECT_EQ(target("{ address: 10.0.0.256, port: 80 }"),
              "lb.yaml:4:20: target_groups[0].targets[0].address: must be an IPv4 or IPv6 address or a DNS name, got "
              "'10.0.0.256': is neither an IP address nor a DNS name (its last label is all digits)");
    EXPECT_EQ(target("{ address: \"10.0.0.1:80\", port: 80 }"),
              "lb.yaml:4:20: target_groups[0].targets[0].address: must be an IP address or a DNS name without a "
              "port; put the port in 'port'");
    EXPECT_EQ(target("{ address: 0.0.0.0, port: 80 }"),
              "lb.yaml:4:20: target_groups[0].targets[0].address: the unspecified address cannot be a target");
    EXPECT_EQ(target("{ address: 255.255.255.255, port: 80 }"),
              "lb.yaml:4:20: target_groups[0].targets[0].address: the broadcast address cannot be a target");
    EXPECT_EQ(target("{ address: \"ff05::2\", port: 80 }"),
              "lb.yaml:4:20: target_groups[0].targets[0].address: a multicast address cannot be a target");
    EXPECT_EQ(target("{ address: 10.0.0.1, port: 70000 }"),
              "lb.yaml:4:36: target_groups[0].targets[0].port: must be between 1 and 65535");
    EXPECT_EQ(target("{ address: 10.0.0.1, port: 80, weight: 1001 }"),
              "lb.yaml:4:48: target_groups[0].targets[0].weight: must be between 0 and 1000");
}

TEST(ConfigErrors, DuplicateTarget) {
    EXPECT_EQ(load_error(yaml(R"(
target_groups:
  - name: web
    targets:
      - { address: "::1", port: 80 }
      - { address: "0:0::1", port: 80 }
)")),
              "lb.yaml:5:9: target_groups[0].targets[1]: duplicate target [::1]:80 (first at line 4)");
}

TEST(ConfigErrors, HealthCheckRules) {
    auto check = [](const std::string& protocol, const std::string& body) {
        return load_error("target_groups:\n  - name: g\n    protocol: " + protocol + "\n    health_check: " + body + "\n");
    };
    // "    health_check: " is 18 columns wide.
    EXPECT_EQ(check("http", "{ interval: 5s, timeout: 5s }"),
              "lb.yaml:4:44: target_groups[0].health_check.timeout: must be less than interval (5s)");
    EXPECT_EQ(check("http", "{ interval: 301s }"),
              "lb.yaml:4:31: target_groups[0].health_check.interval: must be between 1s and 5m");
    EXPECT_EQ(check("http", "{ matcher: \"200-99\" }"),
              "lb.yaml:4:30: target_groups[0].health_check.matcher: invalid matcher '200-99': use codes 100-599 like "
              "\"200\", \"200-399\" or \"200,204\"");
    EXPECT_EQ(check("http", "{ healthy_threshold: 1 }"),
              "lb.yaml:4:40: target_groups[0].health_check.healthy_threshold: must be between 2 and 10");
    EXPECT_EQ(check("http", "{ port: 0 }"),
              "lb.yaml:4:27: target_groups[0].health_check.port: must be traffic-port or a port between 1 and 65535, "
              "got '0'");
    EXPECT_EQ(check("http", "{ path: health }"),
              "lb.yaml:4:27: target_groups[0].health_check.path: must start with '/'");
    EXPECT_EQ(check("tcp", "{ path: /health }"),
              "lb.yaml:4:21: target_groups[0].health_check.path: path only applies to http and https health checks");
    EXPECT_EQ(check("udp", "{ port: 53 }"),
              "lb.yaml:4:19: target_groups[0].health_check: missing required key 'protocol' (udp target groups need an "
              "http, https or tcp check)");
}

TEST(ConfigErrors, StickinessRules) {
    auto sticky = [](const std::string& protocol, const std::string& body) {
        return load_error("target_groups:\n  - name: g\n    protocol: " + protocol + "\n    stickiness: " + body + "\n");
    };
    // "    stickiness: " is 16 columns wide.
    EXPECT_EQ(sticky("http", "{ type: app_cookie }"),
              "lb.yaml:4:17: target_groups[0].stickiness: missing required key 'cookie_name'");
    EXPECT_EQ(sticky("tcp", "{ type: lb_cookie }"),
              "lb.yaml:4:25: target_groups[0].stickiness.type: lb_cookie stickiness needs an http or https target "
              "group");
    EXPECT_EQ(sticky("http", "{ type: app_cookie, cookie_name: \"a b\" }"),
              "lb.yaml:4:50: target_groups[0].stickiness.cookie_name: 'a b' is not a valid cookie name");
    EXPECT_EQ(sticky("tcp", "{ type: source_ip, duration: 1h }"),
              "lb.yaml:4:36: target_groups[0].stickiness.duration: duration does not apply to source_ip stickiness");
    EXPECT_EQ(sticky("http", "{ duration: 1h }"), "lb.yaml:4:17: target_groups[0].stickiness: missing required key 'type'");
    EXPECT_EQ(sticky("http", "{ type: app_cookie, cookie_name: LBAPP-x }"),
              "lb.yaml:4:50: target_groups[0].stickiness.cookie_name: cookie name 'LBAPP-x' is reserved for lb's own "
              "cookies (LBTG, LBAPP-*)");
    EXPECT_EQ(sticky("http", "{ type: lb_cookie, cookie_name: LBTG }"),
              "lb.yaml:4:49: target_groups[0].stickiness.cookie_name: cookie name 'LBTG' is reserved for lb's own "
              "cookies (LBTG, LBAPP-*)");
}

TEST(ConfigErrors, LbCookieMayNotTakeAnApplicationCookieName) {
    EXPECT_EQ(load_error(yaml(R"(
target_groups:
  - name: app
    stickiness: { type: app_cookie, cookie_name: SID }
  - name: web
    stickiness: { type: lb_cookie, cookie_name: SID }
)")),
              "lb.yaml:5:49: target_groups[1].stickiness.cookie_name: cookie name 'SID' is target group 'app''s "
              "application cookie (line 2): lb would take the application's cookie for its own");
    // The default name counts too; the error points at the type then.
    EXPECT_EQ(load_error(yaml(R"(
target_groups:
  - name: app
    stickiness: { type: app_cookie, cookie_name: LBSTICKY }
  - name: web
    stickiness: { type: lb_cookie }
)")),
              "lb.yaml:5:25: target_groups[1].stickiness.type: cookie name 'LBSTICKY' is target group 'app''s "
              "application cookie (line 2): lb would take the application's cookie for its own");
}

TEST(ConfigErrors, ZoneWeightsNeedCrossZoneOff) {
    EXPECT_EQ(load_error(yaml(R"(
target_groups:
  - name: g
    zone_weights: { zone-a: 2 }
)")),
              "lb.yaml:3:5: target_groups[0].zone_weights: zone_weights needs cross_zone: false");
    EXPECT_EQ(load_error(yaml(R"(
target_groups:
  - name: g
    cross_zone: false
    zone_weights: { zone-a: 0 }
)")),
              "lb.yaml:4:29: target_groups[0].zone_weights.zone-a: must be at least 1");
}

TEST(ConfigErrors, UpstreamTlsOnlyForHttpsGroups) {
    EXPECT_EQ(load_error(yaml(R"(
target_groups:
  - name: g
    tls: { verify: false }
)")),
              "lb.yaml:3:5: target_groups[0].tls: tls is only allowed on https target groups");
}

TEST(ConfigErrors, BadObjectName) {
    EXPECT_EQ(load_error("target_groups:\n  - name: my group\n"),
              "lb.yaml:2:11: target_groups[0].name: may only contain letters, digits, '-', '_' and '.'");
}

}  // namespace
}  // namespace lb::conf

namespace lb::conf {
namespace {

TEST(ConfigErrors, DiscoveryRules) {
    EXPECT_EQ(load_error(testing::yaml(R"(
target_groups:
  - name: app
    discovery: { srv: _http._tcp.app }
    targets: [{ address: 10.0.0.1, port: 80 }]
)")),
              "lb.yaml:4:5: target_groups[0].targets: a group takes its targets from discovery or from targets, not "
              "both");
    EXPECT_EQ(load_error(testing::yaml(R"(
target_groups:
  - name: app
    discovery: { refresh: 10s }
)")),
              "lb.yaml:3:16: target_groups[0].discovery: missing required key 'srv'");
    EXPECT_EQ(load_error(testing::yaml(R"(
global:
  resolver: { nameservers: ["dns.example:53"] }
)")),
              "lb.yaml:2:29: global.resolver.nameservers[0]: must be an IP address with an optional port, got "
              "'dns.example:53'");
    EXPECT_EQ(load_error(testing::yaml(R"(
global:
  resolver: { min_ttl: 10s, max_ttl: 5s }
)")),
              "lb.yaml:2:38: global.resolver.max_ttl: must not be less than min_ttl (10s)");
}

}  // namespace
}  // namespace lb::conf

// Header and path rewriting in the loader (README "Header rewriting", "Path
// rewriting"): what loads (edits of listeners and forward actions, values
// parsed into literal and variable pieces, the rule an action belongs to)
// and what is refused, each error pinned with its file:line:column.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "conf/config_loader.h"
#include "conf/header_template.h"
#include "test_support.h"

namespace lb::conf {
namespace {

using testing::load_error;
using testing::load_ok;
using testing::yaml;

// A piece as "text" for a literal and "#name" for a variable, so a whole
// value compares in one EXPECT.
std::vector<std::string> pieces(const HeaderTemplate& header) {
    static const char* const names[] = {"client_ip", "client_port", "host",     "scheme",   "server_port",
                                        "method",    "request_uri", "request_id", "listener", "rule",
                                        "target_group", "target"};
    std::vector<std::string> out;
    for (const auto& piece : header.pieces) {
        if (piece.variable) out.push_back(std::string("#") + names[static_cast<int>(*piece.variable)]);
        else out.push_back(piece.literal);
    }
    return out;
}

using Pieces = std::vector<std::string>;

TEST(ConfigRewrites, ListenerAndForwardEditsLoadWithParsedValues) {
    Config config = load_ok(yaml(R"(
listeners:
  - name: web
    listen: 127.0.0.1:8080
    request_headers:
      set: { X-Real-IP: "#{client_ip}", X-Request-Id: "req-#{request_id}-x" }
      add: { X-Via: "#{host}:#{server_port} via #{listener}" }
      remove: [X-Debug, Authorization]
    response_headers:
      set: { Strict-Transport-Security: "max-age=63072000" }
      remove: Server
    rules:
      - priority: 7
        conditions: { path: /api/* }
        action:
          forward:
            target_group: demo
            path_rewrite: { prefix: /api/, replacement: / }
            request_headers: { set: { Host: app.internal }, add: { X-Route: "#{rule}" } }
            response_headers: { add: { X-Target: "#{target} in #{target_group}" } }
    default_action: { forward: { target_group: demo } }
target_groups:
  - name: demo
    targets: [{ address: 127.0.0.1, port: 9001 }]
)"));
    const Listener& listener = config.listeners.at(0);
    const HeaderEdits& request = listener.request_headers;
    ASSERT_EQ(request.set.size(), 2u);
    EXPECT_EQ(request.set[0].name, "X-Real-IP");
    EXPECT_EQ(request.set[0].value, "#{client_ip}");
    EXPECT_EQ(pieces(request.set[0]), (Pieces{"#client_ip"}));
    EXPECT_EQ(request.set[1].name, "X-Request-Id");
    EXPECT_EQ(pieces(request.set[1]), (Pieces{"req-", "#request_id", "-x"}));
    EXPECT_EQ(request.set[1].pos.line, 5);
    ASSERT_EQ(request.add.size(), 1u);
    EXPECT_EQ(pieces(request.add[0]), (Pieces{"#host", ":", "#server_port", " via ", "#listener"}));
    EXPECT_EQ(request.remove, (std::vector<std::string>{"X-Debug", "Authorization"}));

    const HeaderEdits& response = listener.response_headers;
    ASSERT_EQ(response.set.size(), 1u);
    EXPECT_EQ(pieces(response.set[0]), (Pieces{"max-age=63072000"}));
    EXPECT_TRUE(response.add.empty());
    EXPECT_EQ(response.remove, (std::vector<std::string>{"Server"}));  // one name without a list

    const Rule& rule = listener.rules.at(0);
    EXPECT_EQ(rule.action.rule_priority, 7);
    const ForwardAction& forward = rule.action.forward;
    EXPECT_TRUE(forward.path_rewrite.enabled());
    EXPECT_EQ(forward.path_rewrite.prefix, "/api/");
    EXPECT_EQ(forward.path_rewrite.replacement, "/");
    ASSERT_EQ(forward.request_headers.set.size(), 1u);
    EXPECT_EQ(forward.request_headers.set[0].name, "Host");
    EXPECT_EQ(pieces(forward.request_headers.set[0]), (Pieces{"app.internal"}));
    ASSERT_EQ(forward.request_headers.add.size(), 1u);
    EXPECT_EQ(pieces(forward.request_headers.add[0]), (Pieces{"#rule"}));
    ASSERT_EQ(forward.response_headers.add.size(), 1u);
    EXPECT_EQ(pieces(forward.response_headers.add[0]), (Pieces{"#target", " in ", "#target_group"}));

    // The default action belongs to no rule, and edits nothing of its own.
    EXPECT_EQ(listener.default_action.rule_priority, 0);
    EXPECT_TRUE(listener.default_action.forward.request_headers.empty());
    EXPECT_TRUE(listener.default_action.forward.response_headers.empty());
    EXPECT_FALSE(listener.default_action.forward.path_rewrite.enabled());
}

TEST(ConfigRewrites, VariablesAndLiterals) {
    auto parsed = [](const char* text) {
        ParsedTemplate t = parse_header_template(text);
        EXPECT_EQ(t.error, "") << text;
        HeaderTemplate h;
        h.pieces = t.pieces;
        return pieces(h);
    };
    EXPECT_EQ(parsed("#{client_ip}#{client_port}#{host}#{scheme}#{server_port}#{method}#{request_uri}"
                     "#{request_id}#{listener}#{rule}#{target_group}#{target}"),
              (Pieces{"#client_ip", "#client_port", "#host", "#scheme", "#server_port", "#method", "#request_uri",
                      "#request_id", "#listener", "#rule", "#target_group", "#target"}));
    // '#' not followed by '{' is text, and so is a lone '}'.
    EXPECT_EQ(parsed("a#b}c#"), (Pieces{"a#b}c#"}));
    EXPECT_EQ(parsed(""), (Pieces{}));
    EXPECT_EQ(parse_header_template("#{client_ip").error, "unterminated variable in '#{client_ip'");
    EXPECT_EQ(parse_header_template("#{Host}").error.rfind("unknown variable '#{Host}': use #{client_ip}, ", 0), 0u);
    EXPECT_EQ(parse_header_template("a\rb").error, "a header value must not contain CR, LF or NUL");
}


// An http listener "web" with `listener_keys` (at the listener's indentation)
// and a default forward to "demo" with `forward_keys` (flow items after the
// group).
std::string config_with(const std::string& listener_keys, const std::string& forward_keys = "") {
    return "listeners:\n"
           "  - name: web\n"
           "    listen: 127.0.0.1:8080\n" +
           listener_keys + "    default_action: { forward: { target_group: demo" +
           (forward_keys.empty() ? "" : ", " + forward_keys) +
           " } }\n"
           "target_groups:\n"
           "  - name: demo\n"
           "    targets: [{ address: 127.0.0.1, port: 9001 }]\n";
}

TEST(ConfigRewriteErrors, UnknownVariableIsNamedWithTheChoices) {
    const std::string choices =
        "use #{client_ip}, #{client_port}, #{host}, #{scheme}, #{server_port}, #{method}, #{request_uri}, "
        "#{request_id}, #{listener}, #{rule}, #{target_group} or #{target}";
    EXPECT_EQ(load_error(config_with("    request_headers:\n      set: { X-A: \"x #{nope}\" }\n")),
              "lb.yaml:5:19: listeners[0].request_headers.set.X-A: unknown variable '#{nope}': " + choices);
    // Names are case-sensitive, and an action's edits are checked alike.
    EXPECT_EQ(load_error(config_with("", "response_headers: { add: { X-B: \"#{Host}\" } }")),
              "lb.yaml:4:86: listeners[0].default_action.forward.response_headers.add.X-B: unknown variable "
              "'#{Host}': " +
                  choices);
}

TEST(ConfigRewriteErrors, UnterminatedVariable) {
    EXPECT_EQ(load_error(config_with("    response_headers:\n      add: { X-A: \"#{client_ip\" }\n")),
              "lb.yaml:5:19: listeners[0].response_headers.add.X-A: unterminated variable in '#{client_ip'");
}

TEST(ConfigRewriteErrors, ValueWithLineBreak) {
    EXPECT_EQ(load_error(config_with("    request_headers:\n      set: { X-A: \"a\\nb\" }\n")),
              "lb.yaml:5:19: listeners[0].request_headers.set.X-A: a header value must not contain CR, LF or NUL");
}

TEST(ConfigRewriteErrors, FramingHeadersAreLbsOwnOnBothSides) {
    EXPECT_EQ(load_error(config_with("    request_headers:\n      set: { Content-Length: \"5\" }\n")),
              "lb.yaml:5:14: listeners[0].request_headers.set.Content-Length: 'Content-Length' is framing or "
              "hop-by-hop: lb writes it itself");
    EXPECT_EQ(load_error(config_with("    response_headers:\n      remove: [Server, Connection]\n")),
              "lb.yaml:5:24: listeners[0].response_headers.remove[1]: 'Connection' is framing or hop-by-hop: lb "
              "writes it itself");
    EXPECT_EQ(load_error(config_with("", "response_headers: { add: { transfer-encoding: chunked } }")),
              "lb.yaml:4:81: listeners[0].default_action.forward.response_headers.add.transfer-encoding: "
              "'transfer-encoding' is framing or hop-by-hop: lb writes it itself");
    for (const char* name : {"Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Upgrade"}) {
        EXPECT_EQ(load_error(config_with(std::string("    response_headers:\n      remove: [") + name + "]\n")),
                  std::string("lb.yaml:5:16: listeners[0].response_headers.remove[0]: '") + name +
                      "' is framing or hop-by-hop: lb writes it itself");
    }
}

TEST(ConfigRewriteErrors, ForwardedHeadersMayNotBeForgedOnRequests) {
    EXPECT_EQ(load_error(config_with("    request_headers:\n      set: { X-Forwarded-For: \"1.2.3.4\" }\n")),
              "lb.yaml:5:14: listeners[0].request_headers.set.X-Forwarded-For: 'X-Forwarded-For' carries the "
              "client's identity as lb established it");
    EXPECT_EQ(load_error(config_with("", "request_headers: { remove: [x-forwarded-proto] }")),
              "lb.yaml:4:82: listeners[0].default_action.forward.request_headers.remove[0]: 'x-forwarded-proto' "
              "carries the client's identity as lb established it");
    EXPECT_EQ(load_error(config_with("", "request_headers: { add: { X-Forwarded-Port: \"1\" } }")),
              "lb.yaml:4:80: listeners[0].default_action.forward.request_headers.add.X-Forwarded-Port: "
              "'X-Forwarded-Port' carries the client's identity as lb established it");
    // A response may carry them: there they say nothing about the client.
    EXPECT_EQ(load_error(config_with("    response_headers:\n      set: { X-Forwarded-For: \"#{client_ip}\" }\n")),
              "ok");
    EXPECT_EQ(load_error(config_with("", "response_headers: { remove: [X-Forwarded-Proto] }")), "ok");
}

TEST(ConfigRewriteErrors, HostMayBeSetButNotRemovedOrAdded) {
    EXPECT_EQ(load_error(config_with("    request_headers:\n      set: { Host: \"app.internal\" }\n")), "ok");
    EXPECT_EQ(load_error(config_with("", "request_headers: { set: { host: \"#{host}\" } }")), "ok");
    EXPECT_EQ(load_error(config_with("    request_headers:\n      remove: [Host]\n")),
              "lb.yaml:5:16: listeners[0].request_headers.remove[0]: Host can be set, not removed or added");
    EXPECT_EQ(load_error(config_with("", "request_headers: { add: { HOST: a } }")),
              "lb.yaml:4:80: listeners[0].default_action.forward.request_headers.add.HOST: Host can be set, not "
              "removed or added");
    EXPECT_EQ(load_error(config_with("    request_headers:\n      set: { Host: \"\" }\n")),
              "lb.yaml:5:20: listeners[0].request_headers.set.Host: Host must not be empty");
    // On a response, Host is a name like any other.
    EXPECT_EQ(load_error(config_with("    response_headers:\n      remove: [Host]\n      add: { Host: x }\n")), "ok");
}

TEST(ConfigRewriteErrors, BadHeaderNames) {
    EXPECT_EQ(load_error(config_with("    request_headers:\n      set: { \"X A\": b }\n")),
              "lb.yaml:5:14: listeners[0].request_headers.set.X A: 'X A' is not a valid header name");
    EXPECT_EQ(load_error(config_with("    response_headers:\n      remove: [\"X:Y\"]\n")),
              "lb.yaml:5:16: listeners[0].response_headers.remove[0]: 'X:Y' is not a valid header name");
    EXPECT_EQ(load_error(config_with("    response_headers:\n      remove: [\"\"]\n")),
              "lb.yaml:5:16: listeners[0].response_headers.remove[0]: must not be empty");
}

TEST(ConfigRewriteErrors, UnknownEditKind) {
    EXPECT_EQ(load_error(config_with("    request_headers:\n      replace: { X-A: b }\n")),
              "lb.yaml:5:7: listeners[0].request_headers.replace: unknown key 'replace'");
}

TEST(ConfigRewriteErrors, OnlyOnHttpListeners) {
    const std::string tcp = yaml(R"(
listeners:
  - name: db
    protocol: tcp
    listen: 127.0.0.1:5432
    request_headers: { set: { X-A: b } }
    default_action: { forward: { target_group: t } }
target_groups:
  - name: t
    protocol: tcp
    targets: [{ address: 127.0.0.1, port: 5433 }]
)");
    EXPECT_EQ(load_error(tcp),
              "lb.yaml:5:5: listeners[0].request_headers: request_headers only applies to http and https listeners");
    std::string response = tcp;
    response.replace(response.find("request_headers"), 15, "response_headers");
    EXPECT_EQ(load_error(response),
              "lb.yaml:5:5: listeners[0].response_headers: response_headers only applies to http and https "
              "listeners");
    auto tcp_forward = [](const std::string& keys) {
        return "listeners:\n"
               "  - name: db\n"
               "    protocol: tcp\n"
               "    listen: 127.0.0.1:5432\n"
               "    default_action:\n"
               "      forward: { target_group: t, " +
               keys +
               " }\n"
               "target_groups:\n"
               "  - name: t\n"
               "    protocol: tcp\n"
               "    targets: [{ address: 127.0.0.1, port: 5433 }]\n";
    };
    EXPECT_EQ(load_error(tcp_forward("path_rewrite: { prefix: /a, replacement: /b }")),
              "lb.yaml:6:35: listeners[0].default_action.forward.path_rewrite: path_rewrite needs an http or https "
              "listener");
    EXPECT_EQ(load_error(tcp_forward("request_headers: { set: { X-A: b } }")),
              "lb.yaml:6:35: listeners[0].default_action.forward.request_headers: request_headers needs an http or "
              "https listener");
    EXPECT_EQ(load_error(tcp_forward("response_headers: { set: { X-A: b } }")),
              "lb.yaml:6:35: listeners[0].default_action.forward.response_headers: response_headers needs an http "
              "or https listener");
}

TEST(ConfigRewriteErrors, PathRewrite) {
    const std::string at = "listeners[0].default_action.forward.path_rewrite";
    EXPECT_EQ(load_error(config_with("", "path_rewrite: { prefix: /old/, replacement: /new/ }")), "ok");
    EXPECT_EQ(load_error(config_with("", "path_rewrite: { prefix: old/, replacement: /new/ }")),
              "lb.yaml:4:78: " + at + ".prefix: must start with '/'");
    EXPECT_EQ(load_error(config_with("", "path_rewrite: { prefix: /old/, replacement: new }")),
              "lb.yaml:4:98: " + at + ".replacement: must start with '/'");
    EXPECT_EQ(load_error(config_with("", "path_rewrite: { prefix: /old/, replacement: \"\" }")),
              "lb.yaml:4:98: " + at + ".replacement: must not be empty");
    const std::string no_query = "must not contain whitespace, control characters, '?' or '#'";
    EXPECT_EQ(load_error(config_with("", "path_rewrite: { prefix: /old/, replacement: \"/n?x=1\" }")),
              "lb.yaml:4:98: " + at + ".replacement: " + no_query);
    EXPECT_EQ(load_error(config_with("", "path_rewrite: { prefix: \"/a b\", replacement: / }")),
              "lb.yaml:4:78: " + at + ".prefix: " + no_query);
    EXPECT_EQ(load_error(config_with("", "path_rewrite: { prefix: \"/a#\", replacement: / }")),
              "lb.yaml:4:78: " + at + ".prefix: " + no_query);
    EXPECT_EQ(load_error(config_with("", "path_rewrite: { prefix: /old/ }")),
              "lb.yaml:4:68: " + at + ": missing required key 'replacement'");
    EXPECT_EQ(load_error(config_with("", "path_rewrite: { replacement: /new/ }")),
              "lb.yaml:4:68: " + at + ": missing required key 'prefix'");
    EXPECT_EQ(load_error(config_with("", "path_rewrite: { prefix: /a, replacement: /b, regex: x }")),
              "lb.yaml:4:99: " + at + ".regex: unknown key 'regex'");
}

}  // namespace
}  // namespace lb::conf

// The access log's shape (README "Logs": JSON field selection, the
// nginx-style template compiled at load) and a listener's request identity
// (README "Request ids and trace context"): what loads, and what is
// refused with its file:line:column.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "conf/access_log_format.h"
#include "conf/config_loader.h"
#include "test_support.h"

namespace lb::conf {
namespace {

using testing::load_error;
using testing::load_ok;
using testing::yaml;

const std::string kRest = yaml(R"(
target_groups:
  - { name: web, targets: [{ address: 10.0.0.1, port: 80 }] }
listeners:
  - { name: l, listen: 127.0.0.1:8080, default_action: { forward: { target_group: web } } }
)");

// The template's pieces: "text" for literals, "$name" for variables.
std::vector<std::string> pieces(const std::vector<LogTemplatePiece>& compiled) {
    std::vector<std::string> out;
    for (const auto& piece : compiled) {
        if (!piece.variable) {
            out.push_back(piece.literal);
            continue;
        }
        // Round-trip through the compiler: the name that compiles to this variable.
        for (const char* name : {"remote_addr", "remote_port", "request", "status", "request_id", "trace_id",
                                 "time_local", "upstream_connect_time", "rule", "body_bytes_sent"})
            if (compile_log_template(std::string("$") + name).pieces.front().variable == piece.variable)
                out.push_back(std::string("$") + name);
    }
    return out;
}

// ---------------------------------------------------------------- the template compiler

TEST(LogTemplate, LiteralsAndVariablesInOrder) {
    auto compiled = compile_log_template("$remote_addr - [$time_local] \"$request\" $status ${request_id}x");
    ASSERT_EQ(compiled.error, "");
    EXPECT_EQ(pieces(compiled.pieces),
              (std::vector<std::string>{"$remote_addr", " - [", "$time_local", "] \"", "$request", "\" ", "$status",
                                        " ", "$request_id", "x"}));
}

TEST(LogTemplate, NamesEndAtTheFirstCharacterThatCannotBeInOne) {
    auto compiled = compile_log_template("$status.$remote_port:$rule");
    ASSERT_EQ(compiled.error, "");
    EXPECT_EQ(pieces(compiled.pieces), (std::vector<std::string>{"$status", ".", "$remote_port", ":", "$rule"}));
}

TEST(LogTemplate, DoubleDollarIsOneDollar) {
    auto compiled = compile_log_template("cost $$5 $status");
    ASSERT_EQ(compiled.error, "");
    EXPECT_EQ(pieces(compiled.pieces), (std::vector<std::string>{"cost $5 ", "$status"}));
}

TEST(LogTemplate, NginxAliasesCompileToLbValues) {
    EXPECT_EQ(compile_log_template("$request_length").pieces.front().variable, LogVariable::bytes_received);
    EXPECT_EQ(compile_log_template("$bytes_sent").pieces.front().variable, LogVariable::body_bytes_sent);
}

TEST(LogTemplate, ErrorsSayWhereAndWhat) {
    auto unknown = compile_log_template("$remote_addr $nope");
    EXPECT_EQ(unknown.error, "unknown log variable '$nope'");
    EXPECT_EQ(unknown.error_offset, 13u);
    EXPECT_TRUE(unknown.pieces.empty());
    auto braced = compile_log_template("ab ${remote_adr}");
    EXPECT_EQ(braced.error, "unknown log variable '$remote_adr'");
    EXPECT_EQ(braced.error_offset, 3u);
    auto open = compile_log_template("${status");
    EXPECT_EQ(open.error, "unterminated '${' in the log template");
    auto bare = compile_log_template("100$ off");
    EXPECT_EQ(bare.error, "'$' without a variable name (write $$ for a '$')");
    EXPECT_EQ(bare.error_offset, 3u);
}

// ---------------------------------------------------------------- the loader

TEST(AccessLogShape, DefaultIsJsonWithEveryField) {
    Config config = load_ok(kRest);
    EXPECT_EQ(config.global.access_log.format, AccessLogFormat::json);
    EXPECT_TRUE(config.global.access_log.fields.empty());
}

TEST(AccessLogShape, SelectedFieldsInTheirOrder) {
    Config config = load_ok("global: { access_log: { format: json, fields: [status, time, request_id, rule] } }\n" +
                            kRest);
    EXPECT_EQ(config.global.access_log.fields,
              (std::vector<LogField>{LogField::status, LogField::time, LogField::request_id, LogField::rule}));
}

TEST(AccessLogShape, FieldsWithoutFormatMeanJson) {
    Config config = load_ok("global: { access_log: { fields: [client] } }\n" + kRest);
    EXPECT_EQ(config.global.access_log.fields, std::vector<LogField>{LogField::client});
}

TEST(AccessLogShape, UnknownDuplicateAndEmptyFields) {
    EXPECT_EQ(load_error(yaml(R"(
global:
  access_log: { format: json, fields: [time, stauts] }
)") + kRest),
              "lb.yaml:2:46: global.access_log.fields[1]: unknown access log field 'stauts': use " + log_field_names());
    EXPECT_EQ(load_error("global: { access_log: { fields: [time, time] } }\n" + kRest),
              "lb.yaml:1:33: global.access_log.fields: field 'time' is listed twice");
    EXPECT_EQ(load_error("global: { access_log: { fields: [] } }\n" + kRest),
              "lb.yaml:1:33: global.access_log.fields: needs at least one field (leave fields out for all of them)");
    EXPECT_EQ(load_error("global: { access_log: { format: combined, fields: [time] } }\n" + kRest),
              "lb.yaml:1:43: global.access_log.fields: fields only applies to format: json");
}

TEST(AccessLogShape, TemplateIsCompiledAtLoad) {
    Config config = load_ok(yaml(R"(
global:
  access_log:
    format: template
    template: '$remote_addr:$remote_port "$request" $status ${request_id}'
)") + kRest);
    EXPECT_EQ(config.global.access_log.format, AccessLogFormat::text_template);
    EXPECT_EQ(pieces(config.global.access_log.text_template),
              (std::vector<std::string>{"$remote_addr", ":", "$remote_port", " \"", "$request", "\" ", "$status", " ",
                                        "$request_id"}));
}

TEST(AccessLogShape, UnknownVariableIsRefusedWhereItIs) {
    // Plain scalar: column of the scalar plus the offset.
    EXPECT_EQ(load_error(yaml(R"(
global:
  access_log:
    format: template
    template: $remote_addr $stauts
)") + kRest),
              "lb.yaml:4:28: global.access_log.template: unknown log variable '$stauts'");
    // Quoted: one more for the quote.
    EXPECT_EQ(load_error(yaml(R"(
global:
  access_log:
    format: template
    template: "$status ${bogus}"
)") + kRest),
              "lb.yaml:4:24: global.access_log.template: unknown log variable '$bogus'");
}

TEST(AccessLogShape, TemplateAndFormatGoTogether) {
    EXPECT_EQ(load_error("global: { access_log: { format: template } }\n" + kRest),
              "lb.yaml:1:23: global.access_log: missing required key 'template'");
    EXPECT_EQ(load_error("global: { access_log: { format: json, template: '$status' } }\n" + kRest),
              "lb.yaml:1:39: global.access_log.template: template only applies to format: template");
}

// ---------------------------------------------------------------- request identity

const std::string kGroups = yaml(R"(
target_groups:
  - { name: web, targets: [{ address: 10.0.0.1, port: 80 }] }
)");

TEST(RequestIdentity, DefaultsOnTrustingNobodyTracePassed) {
    Config config = load_ok(kRest);
    const Listener& l = config.listeners.at(0);
    EXPECT_TRUE(l.request_id.enabled);
    EXPECT_EQ(l.request_id.header, "X-Request-Id");
    EXPECT_EQ(l.request_id.trust, RequestIdTrust::none);
    EXPECT_EQ(l.trace_context, TraceContext::pass);
}

TEST(RequestIdentity, HeaderTrustAndTraceStart) {
    Config config = load_ok(kGroups + yaml(R"(
listeners:
  - name: l
    listen: 127.0.0.1:8080
    trusted_proxies: [10.0.0.0/8]
    request_id: { header: X-Correlation-Id, trust: trusted_proxies }
    trace_context: start
    default_action: { forward: { target_group: web } }
  - name: m
    listen: 127.0.0.1:8081
    request_id: off
    default_action: { forward: { target_group: web } }
)"));
    const Listener& l = config.listeners.at(0);
    EXPECT_EQ(l.request_id.header, "X-Correlation-Id");
    EXPECT_EQ(l.request_id.trust, RequestIdTrust::trusted_proxies);
    EXPECT_EQ(l.trace_context, TraceContext::start);
    EXPECT_FALSE(config.listeners.at(1).request_id.enabled);
}

TEST(RequestIdentity, Refusals) {
    auto listener = [](const std::string& keys) {
        return kGroups + "listeners:\n  - { name: l, listen: 127.0.0.1:8080, " + keys +
               ", default_action: { forward: { target_group: web } } }\n";
    };
    EXPECT_EQ(load_error(listener("request_id: { trust: trusted_proxies }")),
              "lb.yaml:4:61: listeners[0].request_id.trust: trust: trusted_proxies needs the listener's "
              "trusted_proxies");
    EXPECT_EQ(load_error(listener("request_id: { trust: some }")),
              "lb.yaml:4:61: listeners[0].request_id.trust: must be none, trusted_proxies or all, got 'some'");
    EXPECT_EQ(load_error(listener("request_id: { header: Content-Length }")),
              "lb.yaml:4:62: listeners[0].request_id.header: 'Content-Length' is framing or hop-by-hop: lb writes "
              "it itself");
    for (std::string name : {"traceparent", "Location", "content-type", "Sec-WebSocket-Accept", "Set-Cookie"})
        EXPECT_EQ(load_error(listener("request_id: { header: " + name + " }")),
                  "lb.yaml:4:62: listeners[0].request_id.header: '" + name +
                      "' means something else to clients or targets: it cannot carry the request id");
    EXPECT_EQ(load_error(listener("request_id: { header: X-Correlation-Id }")), "ok");
    EXPECT_EQ(load_error(listener("trace_context: always")),
              "lb.yaml:4:55: listeners[0].trace_context: must be pass or start, got 'always'");
    EXPECT_EQ(load_error(kGroups + yaml(R"(
listeners:
  - { name: t, protocol: tcp, listen: 127.0.0.1:9000, trace_context: start, default_action: { forward: { target_group: web } } }
)")),
              "lb.yaml:4:55: listeners[0].trace_context: trace_context only applies to http and https listeners");
}

}  // namespace
}  // namespace lb::conf

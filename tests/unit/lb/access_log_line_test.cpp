// Access log lines from an AccessLogEntry (README "Logs"): json with every
// field that applies or a selection in its order, the compiled template
// with nginx's dashes and escaping, and combined with nginx's escaping.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "conf/access_log_format.h"
#include "lb/runtime/access_log.h"

namespace lb {
namespace {

// 2026-01-02T03:04:05.678Z
constexpr int64_t kNow = 1767323045678000;

AccessLogEntry request_entry() {
    AccessLogEntry e;
    e.http = true;
    e.listener = "web";
    e.client = "10.0.0.9";
    e.client_port = 40000;
    e.method = "GET";
    e.host = "a.test";
    e.url = "/x?y=1";
    e.protocol = "HTTP/1.1";
    e.status = 200;
    e.bytes_in = 3;
    e.bytes_out = 1234;
    e.duration_us = 12345;
    e.target = "10.0.1.1:80";
    e.target_group = "g";
    e.user_agent = "ua \"quoted\"";
    e.request_id = "0123456789abcdef0123456789abcdef";
    e.rule = "default";
    e.retries = 1;
    e.connect_us = 250;
    e.first_byte_us = 9000;
    e.upstream_us = 11000;
    return e;
}

std::string line(const conf::AccessLog& config, const AccessLogEntry& e) {
    std::string out;
    format_access_log_line(out, config, e, kNow);
    return out;
}

TEST(AccessLogLine, JsonHasWhatAppliesInTableOrder) {
    conf::AccessLog config;
    std::string text = line(config, request_entry());
    ASSERT_EQ(text.back(), '\n');
    auto json = nlohmann::ordered_json::parse(text);
    std::vector<std::string> keys;
    for (const auto& [key, value] : json.items()) keys.push_back(key);
    EXPECT_EQ(keys, (std::vector<std::string>{"time", "listener", "client", "client_port", "request_id", "method",
                                              "host", "url", "protocol", "status", "bytes_in", "bytes_out",
                                              "duration_ms", "connect_ms", "first_byte_ms", "target", "target_group",
                                              "rule", "retries", "user_agent", "referer"}));
    EXPECT_EQ(json["time"], "2026-01-02T03:04:05.678Z");
    EXPECT_EQ(json["duration_ms"], 12);
    EXPECT_DOUBLE_EQ(json["connect_ms"].get<double>(), 0.25);
    EXPECT_DOUBLE_EQ(json["first_byte_ms"].get<double>(), 9.0);
}

TEST(AccessLogLine, JsonSelectionKeepsItsOrderAndSkipsWhatDoesNotApply) {
    conf::AccessLog config;
    config.fields = {conf::LogField::status, conf::LogField::trace_id, conf::LogField::client};
    EXPECT_EQ(line(config, request_entry()), "{\"status\":200,\"client\":\"10.0.0.9\"}\n");
}

TEST(AccessLogLine, JsonLeavesOutTheTargetOfWhatLbAnsweredItself) {
    conf::AccessLog config;
    AccessLogEntry e = request_entry();
    e.target = "";
    e.target_group = "";
    e.connect_us = e.first_byte_us = -1;
    auto json = nlohmann::ordered_json::parse(line(config, e));
    EXPECT_FALSE(json.contains("target"));
    EXPECT_FALSE(json.contains("target_group"));
    EXPECT_FALSE(json.contains("connect_ms"));
    EXPECT_EQ(json["status"], 200);
}

TEST(AccessLogLine, TemplateWithDashesEscapesAndSeconds) {
    conf::AccessLog config;
    config.format = conf::AccessLogFormat::text_template;
    auto compiled = conf::compile_log_template(
        "$remote_addr $remote_user \"$request\" $status $body_bytes_sent \"$http_user_agent\" \"$http_referer\" "
        "$request_time $upstream_connect_time $upstream_header_time $upstream_response_time $ssl_protocol "
        "$retries $rule $trace_id $msec");
    ASSERT_EQ(compiled.error, "");
    config.text_template = compiled.pieces;
    EXPECT_EQ(line(config, request_entry()),
              "10.0.0.9 - \"GET /x?y=1 HTTP/1.1\" 200 1234 \"ua \\x22quoted\\x22\" \"-\" 0.012 0.000 0.009 0.011 - "
              "1 default - 1767323045.678\n");
}

TEST(AccessLogLine, TemplateOfATunnel) {
    conf::AccessLog config;
    config.format = conf::AccessLogFormat::text_template;
    config.text_template = conf::compile_log_template("$request $status $server_protocol $retries").pieces;
    AccessLogEntry e;
    e.protocol = "tunnel";
    EXPECT_EQ(line(config, e), "- - tunnel -\n");
}

TEST(AccessLogLine, CombinedIsNginxsWithTheClientsBytesEscaped) {
    conf::AccessLog config;
    config.format = conf::AccessLogFormat::combined;
    std::string text = line(config, request_entry());
    // The local time's zone varies: compare around it.
    EXPECT_TRUE(text.starts_with("10.0.0.9 - - [")) << text;
    EXPECT_TRUE(text.ends_with("] \"GET /x?y=1 HTTP/1.1\" 200 1234 \"-\" \"ua \\x22quoted\\x22\" 10.0.1.1:80 12ms\n")) << text;
}

}  // namespace
}  // namespace lb

// Target group keys for balancing and failure handling in the loader
// (README "Algorithms", "Health checks" / passive health, "Retries"):
// least_connections, hash with hash_key, backup targets, passive_health,
// retry_on / retry_tries / retry_timeout / retry_non_idempotent. What loads,
// with which values, and each refusal with its file:line:column.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "conf/config_loader.h"
#include "test_support.h"

namespace lb::conf {
namespace {

using namespace std::chrono_literals;
using testing::load_error;

// Group "g" of `protocol` with `keys` (YAML lines at the group's
// indentation), behind a listener that fits the protocol.
std::string group_yaml(const std::string& keys, const std::string& protocol = "http") {
    const bool http = protocol == "http" || protocol == "https";
    std::string listener = http ? "http" : protocol == "udp" ? "udp" : "tcp";
    return "listeners:\n"
           "  - name: l\n"
           "    protocol: " +
           listener +
           "\n"
           "    listen: 127.0.0.1:8080\n"
           "    default_action: { forward: { target_group: g } }\n"
           "target_groups:\n"
           "  - name: g\n"
           "    protocol: " +
           protocol + "\n" + keys +
           "    targets: [{ address: 127.0.0.1, port: 9001 }, { address: 127.0.0.1, port: 9002 }]\n";
}

TargetGroup load_group(const std::string& keys, const std::string& protocol = "http") {
    auto result = testing::load(group_yaml(keys, protocol), "lb.yaml");
    EXPECT_TRUE(result.ok()) << result.error();
    if (!result.ok()) return TargetGroup{};
    return std::move(result).value().target_groups.at(0);
}

std::string group_error(const std::string& keys, const std::string& protocol = "http") {
    return load_error(group_yaml(keys, protocol));
}

// ---------------------------------------------------------------- algorithms and hash_key

TEST(ConfigBalancing, LeastConnectionsIsAnAlgorithm) {
    EXPECT_EQ(load_group("    algorithm: least_connections\n").algorithm, Algorithm::least_connections);
    EXPECT_EQ(load_group("    algorithm: least_connections\n", "tcp").algorithm, Algorithm::least_connections);
    EXPECT_EQ(load_group("").hash_key.kind, HashKey::Kind::none);
}

TEST(ConfigBalancing, HashKeysOfEachKind) {
    TargetGroup header = load_group("    algorithm: hash\n    hash_key: \"header:X-User-Id\"\n");
    EXPECT_EQ(header.algorithm, Algorithm::hash);
    EXPECT_EQ(header.hash_key.kind, HashKey::Kind::header);
    EXPECT_EQ(header.hash_key.name, "x-user-id");  // header names are kept lower-case

    TargetGroup cookie = load_group("    algorithm: hash\n    hash_key: \"cookie:Session\"\n");
    EXPECT_EQ(cookie.hash_key.kind, HashKey::Kind::cookie);
    EXPECT_EQ(cookie.hash_key.name, "Session");  // cookie names are case-sensitive

    TargetGroup query = load_group("    algorithm: hash\n    hash_key: \"query:sid\"\n");
    EXPECT_EQ(query.hash_key.kind, HashKey::Kind::query);
    EXPECT_EQ(query.hash_key.name, "sid");

    TargetGroup ip = load_group("    algorithm: hash\n    hash_key: client_ip\n");
    EXPECT_EQ(ip.hash_key.kind, HashKey::Kind::client_ip);
    EXPECT_EQ(ip.hash_key.ipv4_prefix, 32);
    EXPECT_EQ(ip.hash_key.ipv6_prefix, 128);

    TargetGroup v4 = load_group("    algorithm: hash\n    hash_key: client_ip/24\n");
    EXPECT_EQ(v4.hash_key.kind, HashKey::Kind::client_ip);
    EXPECT_EQ(v4.hash_key.ipv4_prefix, 24);
    EXPECT_EQ(v4.hash_key.ipv6_prefix, 128);

    TargetGroup both = load_group("    algorithm: hash\n    hash_key: client_ip/24/64\n");
    EXPECT_EQ(both.hash_key.ipv4_prefix, 24);
    EXPECT_EQ(both.hash_key.ipv6_prefix, 64);

    TargetGroup edges = load_group("    algorithm: hash\n    hash_key: client_ip/0/128\n");
    EXPECT_EQ(edges.hash_key.ipv4_prefix, 0);
    EXPECT_EQ(edges.hash_key.ipv6_prefix, 128);
    EXPECT_EQ(load_group("    algorithm: hash\n    hash_key: client_ip/32/0\n").hash_key.ipv6_prefix, 0);

    // client_ip keys are the only ones a tcp or udp group can read.
    EXPECT_EQ(load_group("    algorithm: hash\n    hash_key: client_ip/16\n", "tcp").hash_key.ipv4_prefix, 16);
}

TEST(ConfigBalancingErrors, BadHashKeys) {
    auto key = [](const std::string& text) { return group_error("    algorithm: hash\n    hash_key: \"" + text + "\"\n"); };
    const std::string at = "lb.yaml:10:15: target_groups[0].hash_key: ";
    const std::string prefixes =
        at + "client_ip prefix lengths are client_ip/0..32 for IPv4 and client_ip/V4/0..128 for IPv6";
    EXPECT_EQ(key("client_ip/33"), prefixes);
    EXPECT_EQ(key("client_ip/24/129"), prefixes);
    EXPECT_EQ(key("client_ip/"), prefixes);
    EXPECT_EQ(key("client_ip/24/"), prefixes);
    EXPECT_EQ(key("client_ip/x"), prefixes);
    const std::string forms =
        at + "hash_key must be header:NAME, cookie:NAME, query:NAME or client_ip[/v4bits[/v6bits]], got '";
    EXPECT_EQ(key("client_ip/24/64/8"), forms + "client_ip/24/64/8'");
    EXPECT_EQ(key("client_ipv4"), forms + "client_ipv4'");
    EXPECT_EQ(key("body:x"), forms + "body:x'");
    EXPECT_EQ(key("Header:X"), forms + "Header:X'");
    EXPECT_EQ(key(""), forms + "'");
    EXPECT_EQ(key("header:"), at + "'header:' needs a name, e.g. header:X");
    EXPECT_EQ(key("cookie:"), at + "'cookie:' needs a name, e.g. cookie:X");
    EXPECT_EQ(key("query:"), at + "'query:' needs a name, e.g. query:X");
    EXPECT_EQ(key("header:X User"), at + "'X User' is not a valid header name");
    EXPECT_EQ(key("cookie:a;b"), at + "'a;b' is not a valid cookie name");
    EXPECT_EQ(key("query:a=b"), at + "query key must not contain whitespace, '&', '=' or '#'");
    EXPECT_EQ(key("query:a&b"), at + "query key must not contain whitespace, '&', '=' or '#'");
}

TEST(ConfigBalancingErrors, HashKeyAndAlgorithmHashGoTogether) {
    EXPECT_EQ(group_error("    hash_key: client_ip\n"),
              "lb.yaml:9:5: target_groups[0].hash_key: hash_key needs algorithm: hash");
    EXPECT_EQ(group_error("    algorithm: source_ip_hash\n    hash_key: client_ip\n"),
              "lb.yaml:10:5: target_groups[0].hash_key: hash_key needs algorithm: hash");
    EXPECT_EQ(group_error("    algorithm: hash\n"), "lb.yaml:7:5: target_groups[0]: missing required key 'hash_key'");
}

TEST(ConfigBalancingErrors, RequestKeysNeedAnHttpGroup) {
    EXPECT_EQ(group_error("    algorithm: hash\n    hash_key: \"cookie:sid\"\n", "tcp"),
              "lb.yaml:10:15: target_groups[0].hash_key: cookie keys need an http or https target group; use "
              "client_ip");
    EXPECT_EQ(group_error("    algorithm: hash\n    hash_key: \"header:X-A\"\n", "tcp"),
              "lb.yaml:10:15: target_groups[0].hash_key: header keys need an http or https target group; use "
              "client_ip");
    EXPECT_EQ(group_error("    algorithm: hash\n    hash_key: \"query:sid\"\n", "udp"),
              "lb.yaml:10:15: target_groups[0].hash_key: query keys need an http or https target group; use "
              "client_ip");
    EXPECT_EQ(group_error("    algorithm: hash\n    hash_key: client_ip/24\n", "udp"), "ok");
}

TEST(ConfigBalancingErrors, SourceIpStickinessWouldReplaceTheHashKey) {
    EXPECT_EQ(group_error("    algorithm: hash\n    hash_key: \"query:sid\"\n    stickiness: { type: source_ip }\n"),
              "lb.yaml:11:17: target_groups[0].stickiness: source_ip stickiness would replace algorithm: hash's "
              "hash_key; use one of them");
    EXPECT_EQ(group_error("    algorithm: hash\n    hash_key: \"query:sid\"\n    stickiness: { type: lb_cookie }\n"),
              "ok");
}

// ---------------------------------------------------------------- backup targets

TEST(ConfigBalancing, BackupTargets) {
    auto result = testing::load(testing::yaml(R"(
listeners:
  - name: l
    listen: 127.0.0.1:8080
    default_action: { forward: { target_group: g } }
target_groups:
  - name: g
    targets:
      - { address: 127.0.0.1, port: 9001 }
      - { address: 127.0.0.1, port: 9002, backup: true }
      - { address: 127.0.0.1, port: 9003, backup: false }
)"),
                                     "lb.yaml");
    ASSERT_TRUE(result.ok()) << result.error();
    const auto& targets = result.value().target_groups.at(0).targets;
    ASSERT_EQ(targets.size(), 3u);
    EXPECT_FALSE(targets[0].backup);
    EXPECT_TRUE(targets[1].backup);
    EXPECT_FALSE(targets[2].backup);
    EXPECT_EQ(load_error(testing::yaml(R"(
listeners:
  - name: l
    listen: 127.0.0.1:8080
    default_action: { forward: { target_group: g } }
target_groups:
  - name: g
    targets:
      - { address: 127.0.0.1, port: 9001, backup: maybe }
)")),
              "lb.yaml:8:51: target_groups[0].targets[0].backup: expected true or false, got 'maybe'");
}

// ---------------------------------------------------------------- passive health

TEST(ConfigBalancing, PassiveHealth) {
    TargetGroup off = load_group("");
    EXPECT_EQ(off.passive_health.max_fails, 0);
    EXPECT_EQ(off.passive_health.fail_timeout, 10s);
    TargetGroup on = load_group("    passive_health: { max_fails: 3, fail_timeout: 30s }\n");
    EXPECT_EQ(on.passive_health.max_fails, 3);
    EXPECT_EQ(on.passive_health.fail_timeout, 30s);
    TargetGroup defaulted = load_group("    passive_health: { max_fails: 100 }\n", "tcp");
    EXPECT_EQ(defaulted.passive_health.max_fails, 100);
    EXPECT_EQ(defaulted.passive_health.fail_timeout, 10s);
    EXPECT_EQ(load_group("    passive_health: { max_fails: 0, fail_timeout: 1h }\n").passive_health.fail_timeout, 1h);
}

TEST(ConfigBalancingErrors, PassiveHealthRanges) {
    EXPECT_EQ(group_error("    passive_health: { max_fails: 101 }\n"),
              "lb.yaml:9:34: target_groups[0].passive_health.max_fails: must be between 0 and 100");
    EXPECT_EQ(group_error("    passive_health: { max_fails: -1 }\n"),
              "lb.yaml:9:34: target_groups[0].passive_health.max_fails: must be between 0 and 100");
    EXPECT_EQ(group_error("    passive_health: { max_fails: 1, fail_timeout: 500ms }\n"),
              "lb.yaml:9:51: target_groups[0].passive_health.fail_timeout: must be between 1s and 1h");
    EXPECT_EQ(group_error("    passive_health: { max_fails: 1, fail_timeout: 3601s }\n"),
              "lb.yaml:9:51: target_groups[0].passive_health.fail_timeout: must be between 1s and 1h");
    EXPECT_EQ(group_error("    passive_health: { fail_timeout: 10s }\n"),
              "lb.yaml:9:21: target_groups[0].passive_health: missing required key 'max_fails'");
    EXPECT_EQ(group_error("    passive_health: { max_fails: 1, fail_timout: 10s }\n"),
              "lb.yaml:9:37: target_groups[0].passive_health.fail_timout: unknown key 'fail_timout' (did you mean "
              "'fail_timeout'?)");
}

// ---------------------------------------------------------------- retries

TEST(ConfigBalancing, RetryDefaults) {
    TargetGroup group = load_group("");
    EXPECT_TRUE(group.retry.connect_failure);
    EXPECT_FALSE(group.retry.timeout);
    EXPECT_TRUE(group.retry.statuses.empty());
    EXPECT_EQ(group.retry.tries, 3);
    EXPECT_EQ(group.retry.timeout_budget, 0s);
    EXPECT_FALSE(group.retry.non_idempotent);
}

TEST(ConfigBalancing, RetryKeys) {
    TargetGroup group = load_group(
        "    retry_on: [timeout, 502, 503, 599, 400]\n"
        "    retry_tries: 10\n"
        "    retry_timeout: 2500ms\n"
        "    retry_non_idempotent: true\n");
    // Without connect_failure in the list, connects are not retried either.
    EXPECT_FALSE(group.retry.connect_failure);
    EXPECT_TRUE(group.retry.timeout);
    EXPECT_EQ(group.retry.statuses, (std::vector<int>{502, 503, 599, 400}));
    EXPECT_TRUE(group.retry.on_status(503));
    EXPECT_FALSE(group.retry.on_status(504));
    EXPECT_EQ(group.retry.tries, 10);
    EXPECT_EQ(group.retry.timeout_budget, 2500ms);
    EXPECT_TRUE(group.retry.non_idempotent);

    TargetGroup connects = load_group("    retry_on: [connect_failure]\n    retry_tries: 1\n    retry_timeout: 0s\n");
    EXPECT_TRUE(connects.retry.connect_failure);
    EXPECT_FALSE(connects.retry.timeout);
    EXPECT_EQ(connects.retry.tries, 1);

    TargetGroup never = load_group("    retry_on: []\n");
    EXPECT_FALSE(never.retry.connect_failure);
    EXPECT_FALSE(never.retry.timeout);
    EXPECT_TRUE(never.retry.statuses.empty());

    // tcp groups (tcp and tls_passthrough listeners): connects only, up to retry_tries.
    TargetGroup tcp = load_group("    retry_on: [connect_failure]\n    retry_tries: 5\n", "tcp");
    EXPECT_TRUE(tcp.retry.connect_failure);
    EXPECT_EQ(tcp.retry.tries, 5);
    EXPECT_FALSE(load_group("    retry_on: []\n", "tcp").retry.connect_failure);
}

TEST(ConfigBalancingErrors, RetryOn) {
    EXPECT_EQ(group_error("    retry_on: [503, 502, 503]\n"),
              "lb.yaml:9:26: target_groups[0].retry_on[2]: status 503 is listed twice");
    EXPECT_EQ(group_error("    retry_on: [399]\n"), "lb.yaml:9:16: target_groups[0].retry_on[0]: must be between 400 and 599");
    EXPECT_EQ(group_error("    retry_on: [600]\n"), "lb.yaml:9:16: target_groups[0].retry_on[0]: must be between 400 and 599");
    EXPECT_EQ(group_error("    retry_on: [connect_failures]\n"),
              "lb.yaml:9:16: target_groups[0].retry_on[0]: expected an integer, got 'connect_failures'");
    EXPECT_EQ(group_error("    retry_on: 503\n"), "lb.yaml:9:15: target_groups[0].retry_on: expected a list, got '503'");
    EXPECT_EQ(group_error("    retry_on: [timeout]\n", "tcp"),
              "lb.yaml:9:16: target_groups[0].retry_on[0]: tcp target groups retry only on connect_failure");
    EXPECT_EQ(group_error("    retry_on: [connect_failure, 502]\n", "tcp"),
              "lb.yaml:9:33: target_groups[0].retry_on[1]: tcp target groups retry only on connect_failure");
}

TEST(ConfigBalancingErrors, RetryTriesAndTimeout) {
    EXPECT_EQ(group_error("    retry_tries: 0\n"), "lb.yaml:9:18: target_groups[0].retry_tries: must be between 1 and 10");
    EXPECT_EQ(group_error("    retry_tries: 11\n"), "lb.yaml:9:18: target_groups[0].retry_tries: must be between 1 and 10");
    EXPECT_EQ(group_error("    retry_timeout: 3601s\n"),
              "lb.yaml:9:20: target_groups[0].retry_timeout: must be between 0s and 1h");
    EXPECT_EQ(group_error("    retry_non_idempotent: sometimes\n"),
              "lb.yaml:9:27: target_groups[0].retry_non_idempotent: expected true or false, got 'sometimes'");
    EXPECT_EQ(group_error("    retry_timeout: 5s\n", "tcp"),
              "lb.yaml:9:5: target_groups[0].retry_timeout: retry_timeout applies to http and https target groups");
    EXPECT_EQ(group_error("    retry_non_idempotent: true\n", "tcp"),
              "lb.yaml:9:5: target_groups[0].retry_non_idempotent: retry_non_idempotent applies to http and https "
              "target groups");
}

TEST(ConfigBalancingErrors, UdpGroupsHaveNoReceiveBuffer) {
    EXPECT_EQ(group_error("    receive_buffer: 64k\n", "udp"),
              "lb.yaml:9:5: target_groups[0].receive_buffer: receive_buffer is for TCP connections; it does not "
              "apply to udp target groups");
}

TEST(ConfigBalancingErrors, UdpGroupsDoNotRetry) {
    EXPECT_EQ(group_error("    retry_on: [connect_failure]\n", "udp"),
              "lb.yaml:9:5: target_groups[0].retry_on: retry_on does not apply to udp target groups");
    EXPECT_EQ(group_error("    retry_on: []\n", "udp"),
              "lb.yaml:9:5: target_groups[0].retry_on: retry_on does not apply to udp target groups");
    EXPECT_EQ(group_error("    retry_tries: 2\n", "udp"),
              "lb.yaml:9:5: target_groups[0].retry_tries: retry_tries does not apply to udp target groups");
    EXPECT_EQ(group_error("    retry_timeout: 1s\n", "udp"),
              "lb.yaml:9:5: target_groups[0].retry_timeout: retry_timeout does not apply to udp target groups");
    EXPECT_EQ(group_error("    retry_non_idempotent: false\n", "udp"),
              "lb.yaml:9:5: target_groups[0].retry_non_idempotent: retry_non_idempotent does not apply to udp "
              "target groups");
}

}  // namespace
}  // namespace lb::conf

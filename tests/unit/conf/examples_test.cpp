// The shipped examples must keep loading as the loader evolves.
#include <gtest/gtest.h>

#include <filesystem>

#include "conf/config_loader.h"
#include "test_support.h"

namespace lb::conf {
namespace {

using testing::TempDir;

const std::string examples_dir = LB_CONF_EXAMPLES_DIR;

TEST(Examples, QuickstartLoads) {
    auto result = load_config_file(examples_dir + "/quickstart.yaml");
    ASSERT_TRUE(result.ok()) << result.error();
    const Config& config = *result;
    ASSERT_EQ(config.listeners.size(), 1u);
    const Listener& web = config.listeners[0];
    EXPECT_EQ(web.protocol, ListenerProtocol::http);
    EXPECT_EQ(web.listen.to_string(), "127.0.0.1:8080");
    ASSERT_EQ(web.rules.size(), 1u);
    EXPECT_EQ(web.rules[0].conditions.path, std::vector<std::string>{"/ping"});
    EXPECT_EQ(web.rules[0].action.kind, Action::Kind::fixed_response);
    EXPECT_EQ(web.rules[0].action.fixed_response.body, "pong");
    EXPECT_EQ(web.default_action.forward.target_groups.at(0).name, "demo");

    const TargetGroup* demo = config.find_target_group("demo");
    ASSERT_NE(demo, nullptr);
    EXPECT_EQ(demo->algorithm, Algorithm::round_robin);
    ASSERT_EQ(demo->targets.size(), 3u);
    EXPECT_EQ(demo->targets[0].addr.to_string(), "127.0.0.1:9001");
    EXPECT_EQ(demo->targets[1].addr.to_string(), "127.0.0.1:9002");
    EXPECT_EQ(demo->targets[2].addr.to_string(), "127.0.0.1:9003");
}

// full.yaml names certificates, keys and secrets by relative path; copy it
// into a scratch directory and create those files beside it.
TEST(Examples, FullLoadsWithItsFilesBesideIt) {
    TempDir dir;
    std::string path = testing::write_full_example(dir);

    auto result = load_config_file(path);
    ASSERT_TRUE(result.ok()) << result.error();
    const Config& config = *result;
    EXPECT_EQ(config.global.admin.token_file, (dir.path() / "admin.token").string());
    ASSERT_EQ(config.listeners.size(), 5u);
    EXPECT_EQ(config.listeners[0].rules.size(), 4u);
    EXPECT_EQ(config.listeners[0].request_headers.set.size(), 2u);
    EXPECT_EQ(config.listeners[0].rules[3].action.forward.path_rewrite.prefix, "/chat/");
    EXPECT_EQ(config.listeners[1].protocol, ListenerProtocol::https);
    ASSERT_TRUE(config.listeners[1].tls);
    EXPECT_EQ(config.listeners[1].tls->certificates.at(1).cert,
              (dir.path() / "certs/wild.example.com.pem").string());
    EXPECT_EQ(config.listeners[2].proxy_protocol, ProxyProtocol::v2);
    EXPECT_EQ(config.listeners[3].protocol, ListenerProtocol::tls_passthrough);
    EXPECT_EQ(config.listeners[4].protocol, ListenerProtocol::udp);
    EXPECT_EQ(config.target_groups.size(), 9u);
    EXPECT_TRUE(config.find_target_group("web")->health_check.enabled);
    EXPECT_TRUE(config.find_target_group("web")->targets.back().backup);
    EXPECT_EQ(config.find_target_group("web")->retry.statuses.size(), 3u);
    EXPECT_EQ(config.find_target_group("chat")->hash_key.kind, HashKey::Kind::query);
    EXPECT_TRUE(config.find_target_group("api-v2")->targets[1].is_name());
    EXPECT_EQ(config.find_target_group("api-v3")->discovery.srv, "_http._tcp.api-v3.service.consul");
    EXPECT_EQ(config.global.resolver.nameservers.size(), 1u);

    // Without its files it must say which one is missing, not load.
    std::filesystem::remove(dir.path() / "certs/a.key");
    auto missing = load_config_file(path);
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.error().find("listeners[1].tls.certificates[0].key: cannot read '" +
                                   (dir.path() / "certs/a.key").string() + "'"),
              std::string::npos)
        << missing.error();
}

}  // namespace
}  // namespace lb::conf

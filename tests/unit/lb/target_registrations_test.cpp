// Run-time registrations on top of the YAML: what survives a reload.
#include "lb/targets/target_registrations.h"

#include <gtest/gtest.h>

namespace lb {
namespace {

conf::Target target(const char* ip, uint16_t port, int weight = 1) {
    conf::Target t;
    t.address = ip;
    t.port = port;
    t.addr = *SocketAddress::from_ip(ip, port);
    t.weight = weight;
    return t;
}

conf::Config base(std::vector<conf::Target> targets, const char* group = "web") {
    conf::Config config;
    conf::TargetGroup g;
    g.name = group;
    g.targets = std::move(targets);
    config.target_groups.push_back(g);
    return config;
}

std::vector<std::string> ids(const conf::Config& config, const char* group = "web") {
    std::vector<std::string> out;
    for (const auto& t : config.find_target_group(group)->targets) out.push_back(t.addr.to_string());
    return out;
}

TEST(TargetRegistrations, NothingRegisteredIsTheYaml) {
    TargetRegistrations registrations;
    auto yaml = base({target("10.0.0.1", 80)});
    EXPECT_EQ(ids(registrations.apply(yaml)), std::vector<std::string>{"10.0.0.1:80"});
}

TEST(TargetRegistrations, ApiTargetsAreAddedAndSurviveANewBase) {
    TargetRegistrations registrations;
    auto yaml = base({target("10.0.0.1", 80)});
    registrations.register_target(yaml, "web", target("10.0.0.2", 80, 5));
    auto effective = registrations.apply(yaml);
    EXPECT_EQ(ids(effective), (std::vector<std::string>{"10.0.0.1:80", "10.0.0.2:80"}));
    EXPECT_EQ(effective.target_groups[0].targets[1].weight, 5);
    EXPECT_EQ(registrations.source("web", *SocketAddress::parse("10.0.0.2:80")), TargetSource::api);
    EXPECT_EQ(registrations.source("web", *SocketAddress::parse("10.0.0.1:80")), TargetSource::config);

    auto reloaded = base({target("10.0.0.1", 80), target("10.0.0.3", 80)});
    registrations.prune(reloaded);
    EXPECT_EQ(ids(registrations.apply(reloaded)),
              (std::vector<std::string>{"10.0.0.1:80", "10.0.0.3:80", "10.0.0.2:80"}));
}

TEST(TargetRegistrations, RegisteringAgainReplacesWeight) {
    TargetRegistrations registrations;
    auto yaml = base({});
    registrations.register_target(yaml, "web", target("10.0.0.2", 80, 5));
    registrations.register_target(yaml, "web", target("10.0.0.2", 80, 7));
    auto effective = registrations.apply(yaml);
    ASSERT_EQ(effective.target_groups[0].targets.size(), 1u);
    EXPECT_EQ(effective.target_groups[0].targets[0].weight, 7);
}

TEST(TargetRegistrations, DeregisteredYamlTargetStaysOutUntilRegisteredAgain) {
    TargetRegistrations registrations;
    auto yaml = base({target("10.0.0.1", 80), target("10.0.0.2", 80)});
    registrations.deregister_target(yaml, "web", *SocketAddress::parse("10.0.0.1:80"));
    EXPECT_EQ(ids(registrations.apply(yaml)), std::vector<std::string>{"10.0.0.2:80"});
    registrations.prune(yaml);  // a reload with the same file
    EXPECT_EQ(ids(registrations.apply(yaml)), std::vector<std::string>{"10.0.0.2:80"});
    registrations.register_target(yaml, "web", target("10.0.0.1", 80));
    EXPECT_EQ(ids(registrations.apply(yaml)), (std::vector<std::string>{"10.0.0.1:80", "10.0.0.2:80"}));
    // Back as the YAML's own target, not an API one.
    EXPECT_EQ(registrations.source("web", *SocketAddress::parse("10.0.0.1:80")), TargetSource::config);
}

TEST(TargetRegistrations, TombstoneGoesWhenTheYamlDropsTheTarget) {
    TargetRegistrations registrations;
    auto yaml = base({target("10.0.0.1", 80)});
    registrations.deregister_target(yaml, "web", *SocketAddress::parse("10.0.0.1:80"));
    auto without = base({});
    registrations.prune(without);
    // The file names it again later: it is simply the file's target.
    EXPECT_EQ(ids(registrations.apply(yaml)), std::vector<std::string>{"10.0.0.1:80"});
}

TEST(TargetRegistrations, DeregisteringAnApiTargetForgetsIt) {
    TargetRegistrations registrations;
    auto yaml = base({});
    registrations.register_target(yaml, "web", target("10.0.0.2", 80));
    registrations.deregister_target(yaml, "web", *SocketAddress::parse("10.0.0.2:80"));
    EXPECT_TRUE(ids(registrations.apply(yaml)).empty());
    EXPECT_EQ(registrations.source("web", *SocketAddress::parse("10.0.0.2:80")), TargetSource::config);
}

TEST(TargetRegistrations, YamlTakesOverAnApiTargetItNowNames) {
    TargetRegistrations registrations;
    registrations.register_target(base({}), "web", target("10.0.0.2", 80, 9));
    auto reloaded = base({target("10.0.0.2", 80, 1)});
    registrations.prune(reloaded);
    auto effective = registrations.apply(reloaded);
    ASSERT_EQ(effective.target_groups[0].targets.size(), 1u);
    EXPECT_EQ(effective.target_groups[0].targets[0].weight, 1);
    EXPECT_EQ(registrations.source("web", *SocketAddress::parse("10.0.0.2:80")), TargetSource::config);
}

TEST(TargetRegistrations, ChangesToARemovedGroupAreDropped) {
    TargetRegistrations registrations;
    registrations.register_target(base({}, "old"), "old", target("10.0.0.2", 80));
    registrations.prune(base({}, "web"));
    EXPECT_TRUE(registrations.apply(base({}, "old")).target_groups[0].targets.empty());
}

}  // namespace
}  // namespace lb

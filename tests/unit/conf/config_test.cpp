#include "conf/config.h"

#include <gtest/gtest.h>

namespace lb::conf {
namespace {

TEST(SourcePos, FormatsFileLineColumnPathMessage) {
    SourcePos pos{"lb.yaml", 14, 9, "listeners[0].rules[1].conditions.path[0]"};
    EXPECT_EQ(pos.format("must start with '/'"),
              "lb.yaml:14:9: listeners[0].rules[1].conditions.path[0]: must start with '/'");
}

TEST(SourcePos, LeavesOutWhatIsUnknown) {
    EXPECT_EQ((SourcePos{"lb.yaml", 3, 1, ""}.format("bad")), "lb.yaml:3:1: bad");
    EXPECT_EQ((SourcePos{"lb.yaml", 0, 0, "global"}.format("bad")), "lb.yaml: global: bad");
    EXPECT_EQ((SourcePos{}.format("bad")), "bad");
}

TEST(ToString, Enums) {
    EXPECT_STREQ(to_string(ListenerProtocol::tls_passthrough), "tls_passthrough");
    EXPECT_STREQ(to_string(ListenerProtocol::udp), "udp");
    EXPECT_STREQ(to_string(TargetProtocol::https), "https");
    EXPECT_STREQ(to_string(Algorithm::least_outstanding_requests), "least_outstanding_requests");
    EXPECT_STREQ(to_string(Algorithm::source_ip_hash), "source_ip_hash");
    EXPECT_STREQ(to_string(HealthCheck::Protocol::tcp), "tcp");
}

}  // namespace
}  // namespace lb::conf

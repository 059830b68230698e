// listeners' http2 and http2_limits: defaults per protocol, what loads, and
// each error with its position.
#include <gtest/gtest.h>

#include "conf/config_loader.h"
#include "test_support.h"

namespace lb::conf {
namespace {

using testing::load_error;
using testing::TempDir;
using testing::load_ok;

// An http or https listener (with certificate files in `dir`) carrying
// `extra` lines at the listener's indentation.
std::string listener_yaml(TempDir& dir, const std::string& protocol, const std::string& extra) {
    dir.write("a.pem", "x");
    dir.write("a.key", "x");
    std::string tls = protocol == "https" ? "    tls: { certificates: [{ cert: " + (dir.path() / "a.pem").string() +
                                                ", key: " + (dir.path() / "a.key").string() + " }] }\n"
                                          : "";
    return "listeners:\n"
           "  - name: web\n"
           "    protocol: " + protocol + "\n"
           "    listen: 127.0.0.1:8443\n" + tls + extra +
           "    default_action: { fixed_response: { status: 200 } }\n";
}

TEST(Http2Config, HttpsOffersH2ByDefaultAndHttpDoesNot) {
    TempDir dir;
    EXPECT_EQ(load_ok(listener_yaml(dir, "https", "")).listeners[0].http2.mode, Http2Mode::on);
    EXPECT_EQ(load_ok(listener_yaml(dir, "http", "")).listeners[0].http2.mode, Http2Mode::off);
    EXPECT_EQ(load_ok(listener_yaml(dir, "https", "    http2: false\n")).listeners[0].http2.mode, Http2Mode::off);
    EXPECT_EQ(load_ok(listener_yaml(dir, "http", "    http2: prior_knowledge\n")).listeners[0].http2.mode,
              Http2Mode::prior_knowledge);
}

TEST(Http2Config, LimitsLoadWithTheirDefaultsKept) {
    TempDir dir;
    Http2 http2 = load_ok(listener_yaml(dir, "https",
                                        "    http2_limits: { max_concurrent_streams: 32, stream_window: 128k,\n"
                                        "                    reset_rate: { per_second: 5 } }\n"))
                      .listeners[0]
                      .http2;
    EXPECT_EQ(http2.max_concurrent_streams, 32u);
    EXPECT_EQ(http2.stream_window, 128u * 1024);
    EXPECT_EQ(http2.connection_window, 1024u * 1024);  // default
    EXPECT_EQ(http2.reset_rate.per_second, 5u);
    EXPECT_EQ(http2.reset_rate.burst, 5u);             // burst defaults to per_second
    EXPECT_EQ(http2.control_frame_rate.per_second, 100u);
}

TEST(Http2Config, ModeErrorsSayWhatToWrite) {
    TempDir dir;
    EXPECT_EQ(load_error(listener_yaml(dir, "http", "    http2: true\n")),
              "lb.yaml:5:12: listeners[0].http2: HTTP/2 on a plain http listener is h2c for clients that know it "
              "is there: write prior_knowledge (or use an https listener, where ALPN offers it)");
    EXPECT_EQ(load_error(listener_yaml(dir, "https", "    http2: prior_knowledge\n")),
              "lb.yaml:6:12: listeners[0].http2: https listeners offer HTTP/2 through ALPN: write true (the "
              "default) or false");
    EXPECT_EQ(load_error(listener_yaml(dir, "http", "    http2: sometimes\n")),
              "lb.yaml:5:12: listeners[0].http2: must be true, false or prior_knowledge, got 'sometimes'");
}

TEST(Http2Config, LimitErrorsHavePositions) {
    TempDir dir;
    EXPECT_EQ(load_error(listener_yaml(dir, "https", "    http2_limits: { max_concurrent_streams: 0 }\n")),
              "lb.yaml:6:45: listeners[0].http2_limits.max_concurrent_streams: must be between 1 and 10000");
    EXPECT_EQ(load_error(listener_yaml(dir, "https",
                                       "    http2_limits: { stream_window: 512k, connection_window: 256k }\n")),
              "lb.yaml:6:61: listeners[0].http2_limits.connection_window: must be at least stream_window "
              "(524288 bytes)");
    EXPECT_EQ(load_error(listener_yaml(dir, "https", "    http2_limits: { streams: 5 }\n")),
              "lb.yaml:6:21: listeners[0].http2_limits.streams: unknown key 'streams'");
}

TEST(Http2Config, OnlyHttpListenersTakeIt) {
    TempDir dir;
    EXPECT_EQ(load_error("listeners:\n  - { name: t, protocol: tcp, listen: 127.0.0.1:9000, http2: false,\n"
                         "      default_action: { forward: { target_group: g } } }\n"
                         "target_groups: [{ name: g, protocol: tcp, targets: [{ address: 127.0.0.1, port: 1 }] }]\n"),
              "lb.yaml:2:55: listeners[0].http2: http2 only applies to http and https listeners");
}

}  // namespace
}  // namespace lb::conf

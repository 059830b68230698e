#include "lb/control/metrics.h"

#include <gtest/gtest.h>

#include "lb/worker/worker.h"

namespace lb {
namespace {

// A snapshot with one group of two targets, built by hand.
Runtime runtime_with(const std::string& group_name) {
    Runtime runtime;
    runtime.generation = 3;
    auto group = std::make_unique<TargetGroupRuntime>();
    group->config.name = group_name;
    group->state = std::make_shared<TargetGroupState>(group_name);
    for (uint16_t port : {8080, 8081}) {
        auto address = SocketAddress::from_ip("10.0.0.1", port);
        EXPECT_TRUE(address.has_value());
        TargetEntry entry;
        entry.state = std::make_shared<TargetState>(group_name, *address);
        group->targets.push_back(std::move(entry));
    }
    runtime.groups.push_back(std::move(group));
    return runtime;
}

TEST(Metrics, WorkerCountersAreSummed) {
    WorkerCounters a, b;
    a.requests = 5;
    b.requests = 7;
    a.connections_open = 2;
    b.connections_open = 1;
    a.count_response(200);
    b.count_response(204);
    b.count_response(503);
    a.count_response(0);    // the client left before an answer
    b.count_response(999);  // not a status: counted as none, never out of bounds
    ServerStats stats;
    stats.add(a);
    stats.add(b);
    EXPECT_EQ(stats.requests, 12u);
    EXPECT_EQ(stats.connections_open, 3);
    EXPECT_EQ(stats.responses_by_class[2], 2u);
    EXPECT_EQ(stats.responses_by_class[5], 1u);
    EXPECT_EQ(stats.responses_by_class[0], 2u);
}

TEST(Metrics, PrometheusTextHasOneStateSamplePerTargetAndState) {
    Runtime runtime = runtime_with("web");
    runtime.groups[0]->targets[0].state->health = TargetHealth::healthy;
    runtime.groups[0]->targets[1].state->draining = true;
    runtime.groups[0]->targets[1].state->requests_total = 42;
    ServerStats stats;
    stats.generation = runtime.generation;
    stats.zone = "zone-a";
    std::string text = prometheus_text(stats, runtime);
    EXPECT_NE(text.find("lb_info{version=\"" LB_VERSION "\",zone=\"zone-a\"} 1\n"), std::string::npos);
    EXPECT_NE(text.find("lb_config_generation 3\n"), std::string::npos);
    EXPECT_NE(text.find("lb_target_state{target_group=\"web\",target=\"10.0.0.1:8080\",state=\"healthy\"} 1\n"),
              std::string::npos);
    EXPECT_NE(text.find("lb_target_state{target_group=\"web\",target=\"10.0.0.1:8080\",state=\"draining\"} 0\n"),
              std::string::npos);
    EXPECT_NE(text.find("lb_target_state{target_group=\"web\",target=\"10.0.0.1:8081\",state=\"draining\"} 1\n"),
              std::string::npos);
    EXPECT_NE(text.find("lb_target_requests_total{target_group=\"web\",target=\"10.0.0.1:8081\"} 42\n"),
              std::string::npos);
    EXPECT_EQ(text.back(), '\n');
}

TEST(Metrics, HistogramsAreCumulativeWithBoundsInSecondsAndBytes) {
    Runtime runtime = runtime_with("web");
    HttpHistograms& http = runtime.groups[0]->state->http;
    http.duration.observe(80);       // 80 µs: le 0.0001
    http.duration.observe(100'000);  // exactly 0.1 s: le 0.1 (inclusive)
    http.duration.observe(90'000'000);  // past the last bound: +Inf only
    http.response_size.observe(5000);
    std::string text = prometheus_text(ServerStats{}, runtime);
    const std::string family = "lb_target_group_http_request_duration_seconds";
    EXPECT_NE(text.find("# TYPE " + family + " histogram\n"), std::string::npos);
    EXPECT_NE(text.find(family + "_bucket{target_group=\"web\",le=\"0.0001\"} 1\n"), std::string::npos);
    EXPECT_NE(text.find(family + "_bucket{target_group=\"web\",le=\"0.05\"} 1\n"), std::string::npos);
    EXPECT_NE(text.find(family + "_bucket{target_group=\"web\",le=\"0.1\"} 2\n"), std::string::npos);
    EXPECT_NE(text.find(family + "_bucket{target_group=\"web\",le=\"60\"} 2\n"), std::string::npos);
    EXPECT_NE(text.find(family + "_bucket{target_group=\"web\",le=\"+Inf\"} 3\n"), std::string::npos);
    EXPECT_NE(text.find(family + "_sum{target_group=\"web\"} 90.10008\n"), std::string::npos);
    EXPECT_NE(text.find(family + "_count{target_group=\"web\"} 3\n"), std::string::npos);
    const std::string sizes = "lb_target_group_http_response_size_bytes";
    EXPECT_NE(text.find(sizes + "_bucket{target_group=\"web\",le=\"4096\"} 0\n"), std::string::npos);
    EXPECT_NE(text.find(sizes + "_bucket{target_group=\"web\",le=\"16384\"} 1\n"), std::string::npos);
    EXPECT_NE(text.find(sizes + "_bucket{target_group=\"web\",le=\"1073741824\"} 1\n"), std::string::npos);
    // No http listener in this runtime: no listener histogram families.
    EXPECT_EQ(text.find("lb_listener_http_"), std::string::npos);
}

TEST(Metrics, LabelValuesAreEscaped) {
    Runtime runtime = runtime_with("we\"b\\x\ny");
    std::string text = prometheus_text(ServerStats{}, runtime);
    EXPECT_NE(text.find("target_group=\"we\\\"b\\\\x\\ny\""), std::string::npos);
    EXPECT_EQ(text.find("we\"b"), std::string::npos);
}

}  // namespace
}  // namespace lb

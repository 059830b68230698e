// DashboardHistory without a loop: samples taken at given times over a
// hand-built snapshot whose counters the test moves.
#include "lb/control/dashboard_history.h"

#include <gtest/gtest.h>

namespace lb {
namespace {

struct Snapshot {
    Runtime runtime;
    std::shared_ptr<TargetState> a, b;
    std::shared_ptr<ListenerState> listener = std::make_shared<ListenerState>("web");

    Snapshot() {
        auto group = std::make_unique<TargetGroupRuntime>();
        group->config.name = "web";
        group->state = std::make_shared<TargetGroupState>("web");
        for (uint16_t port : {8080, 8081}) {
            TargetEntry entry;
            entry.state = std::make_shared<TargetState>("web", *SocketAddress::from_ip("10.0.0.1", port));
            (port == 8080 ? a : b) = entry.state;
            group->targets.push_back(std::move(entry));
        }
        runtime.groups.push_back(std::move(group));
        auto listener_runtime = std::make_unique<ListenerRuntime>();
        listener_runtime->config.name = "web";
        listener_runtime->state = listener;
        runtime.listeners.push_back(std::move(listener_runtime));
    }
    TargetGroupState& group_state() { return *runtime.groups[0]->state; }
};

// `n` answers from target `t` taking `us` each, seen by the group and the listener too.
void serve(Snapshot& s, TargetState& t, int n, uint64_t us, bool error = false) {
    for (int i = 0; i < n; ++i) {
        t.requests_total.fetch_add(1);
        if (error) t.responses_5xx.fetch_add(1);
        t.response_time.observe(us);
        s.group_state().http.duration.observe(us);
        s.listener->http.duration.observe(us);
    }
}

TEST(DashboardHistory, RatesArePerSecondOfTheIntervalAndQuantilesOnlyOfIt) {
    Snapshot s;
    DashboardHistory history;
    serve(s, *s.a, 1000, 30'000'000);  // before the first sample: never in a window
    history.sample(s.runtime, {1000, 0}, 10'000, 1'700'000'000'000);
    EXPECT_EQ(history.lb_series().size(), 0u);  // one reading is no interval
    ASSERT_NE(history.target_rates("web", "10.0.0.1:8080"), nullptr);
    EXPECT_EQ(history.target_rates("web", "10.0.0.1:8080")->p99_us, -1);

    serve(s, *s.a, 40, 400);                  // 400 µs: bucket (250, 500]
    serve(s, *s.a, 10, 400, /*error=*/true);
    serve(s, *s.b, 50, 8'000);                // bucket (5000, 10000]
    history.sample(s.runtime, {1100, 10}, 12'000, 1'700'000'002'000);  // two seconds later

    const auto* a = history.target_rates("web", "10.0.0.1:8080");
    ASSERT_NE(a, nullptr);
    EXPECT_DOUBLE_EQ(a->requests_per_s, 25);
    EXPECT_DOUBLE_EQ(a->errors_per_s, 5);
    EXPECT_GT(a->p50_us, 250);
    EXPECT_LE(a->p99_us, 500);  // the 30 s answers of before are not in this window
    const auto* group = history.group_rates("web");
    ASSERT_NE(group, nullptr);
    EXPECT_DOUBLE_EQ(group->requests_per_s, 50);
    EXPECT_DOUBLE_EQ(group->errors_per_s, 5);
    EXPECT_LE(group->p50_us, 500);
    EXPECT_GT(group->p99_us, 5000);
    EXPECT_DOUBLE_EQ(history.listener_rates("web")->requests_per_s, 50);
    EXPECT_DOUBLE_EQ(history.lb_rates().requests_per_s, 50);
    EXPECT_DOUBLE_EQ(history.lb_rates().errors_per_s, 5);

    ASSERT_EQ(history.lb_series().size(), 1u);
    EXPECT_EQ(history.lb_series().back().unix_ms, 1'700'000'002'000);
    ASSERT_EQ(history.group_series("web")->size(), 1u);

    // A quiet second: rates fall to 0, latency has nothing to say.
    history.sample(s.runtime, {1100, 10}, 13'000, 1'700'000'003'000);
    EXPECT_DOUBLE_EQ(history.target_rates("web", "10.0.0.1:8080")->requests_per_s, 0);
    EXPECT_EQ(history.target_rates("web", "10.0.0.1:8080")->p99_us, -1);
    EXPECT_EQ(history.group_series("web")->back().rates.p99_us, -1);
}

TEST(DashboardHistory, SeriesAreBounded) {
    Snapshot s;
    DashboardHistory history;
    for (int64_t i = 0; i < static_cast<int64_t>(DashboardHistory::kPoints) + 50; ++i)
        history.sample(s.runtime, {}, 1000 * (i + 1), i);
    EXPECT_EQ(history.lb_series().size(), DashboardHistory::kPoints);
    EXPECT_EQ(history.group_series("web")->size(), DashboardHistory::kPoints);
    EXPECT_EQ(history.lb_series().back().unix_ms, static_cast<int64_t>(DashboardHistory::kPoints) + 49);
}

TEST(DashboardHistory, VanishedThingsAreForgottenAndNewOnesStartWithoutARate) {
    Snapshot s;
    DashboardHistory history;
    history.sample(s.runtime, {}, 1000, 1);
    history.sample(s.runtime, {}, 2000, 2);

    // A reload drops target b and the group's second target is new.
    auto& targets = s.runtime.groups[0]->targets;
    auto c = std::make_shared<TargetState>("web", *SocketAddress::from_ip("10.0.0.2", 8080));
    serve(s, *c, 100, 1000);
    targets[1].state = c;
    history.sample(s.runtime, {}, 3000, 3);
    EXPECT_EQ(history.target_rates("web", "10.0.0.1:8081"), nullptr);
    ASSERT_NE(history.target_rates("web", "10.0.0.2:8080"), nullptr);
    EXPECT_DOUBLE_EQ(history.target_rates("web", "10.0.0.2:8080")->requests_per_s, 0);  // its first reading

    // A target registered again is a new TargetState: its counter restarts
    // below the last reading, which is no negative rate.
    auto again = std::make_shared<TargetState>("web", *SocketAddress::from_ip("10.0.0.2", 8080));
    targets[1].state = again;
    history.sample(s.runtime, {}, 4000, 4);
    EXPECT_DOUBLE_EQ(history.target_rates("web", "10.0.0.2:8080")->requests_per_s, 0);
    serve(s, *again, 3, 1000);
    history.sample(s.runtime, {}, 5000, 5);
    EXPECT_DOUBLE_EQ(history.target_rates("web", "10.0.0.2:8080")->requests_per_s, 3);

    // The group goes: its series goes with it.
    s.runtime.groups.clear();
    history.sample(s.runtime, {}, 6000, 6);
    EXPECT_EQ(history.group_series("web"), nullptr);
    EXPECT_EQ(history.group_rates("web"), nullptr);
    EXPECT_EQ(history.target_rates("web", "10.0.0.1:8080"), nullptr);
}

}  // namespace
}  // namespace lb

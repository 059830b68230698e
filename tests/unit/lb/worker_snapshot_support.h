// A worker's view of a config for unit tests: YAML through the real loader
// and RuntimeBuilder (no sockets bound), plus the per-worker balancers and
// zone rotations a Worker would add when it adopts the runtime.
#pragma once

#include <gtest/gtest.h>

#include <climits>
#include <string>

#include "conf/config_loader.h"
#include "lb/runtime/runtime.h"
#include "lb/worker/worker.h"

namespace lb::testing {

// One http listener "web" forwarding to group "g": `group_keys` (YAML
// lines at the group's indentation) and `targets` (flow items).
inline std::string one_group_yaml(const std::string& targets, const std::string& group_keys = "") {
    return "listeners:\n"
           "  - name: web\n"
           "    listen: 127.0.0.1:8080\n"
           "    default_action: { forward: { target_group: g } }\n"
           "target_groups:\n"
           "  - name: g\n" +
           group_keys + "    targets: [" + targets + "]\n";
}

// Fills `snapshot` from `config`, as it would be served (after discovery
// expanded its names); a build error fails the test.
inline void build_snapshot(RuntimeBuilder& builder, const conf::Config& config, WorkerSnapshot& snapshot) {
    auto runtime = builder.build(config, 1, /*bind_sockets=*/false);
    ASSERT_TRUE(runtime) << runtime.error();
    snapshot.runtime = *runtime;
    for (const auto& group : snapshot.runtime->groups) {
        snapshot.balancers.push_back(group->balancer->create());
        snapshot.zone_rotations.push_back(group->zones ? ZoneRotation(*group->zones) : ZoneRotation());
    }
    snapshot.fail_open_logged_ms.assign(snapshot.runtime->groups.size(), INT64_MIN);
}

// Fills `snapshot` from `yaml`; a config or build error fails the test.
inline void build_snapshot(RuntimeBuilder& builder, const std::string& yaml, WorkerSnapshot& snapshot) {
    auto config = conf::load_config_string(yaml, "lb.yaml");
    ASSERT_TRUE(config) << config.error();
    build_snapshot(builder, *config, snapshot);
}

}  // namespace lb::testing

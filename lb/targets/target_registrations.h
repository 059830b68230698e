// TargetRegistrations: what the admin API changed about group membership,
// kept on top of the YAML. The YAML is the base; every snapshot is built from
// apply(base), so run-time changes survive any number of reloads:
//   - a target registered through the API is added (source "api");
//   - a YAML target deregistered through the API stays out (a tombstone)
//     until it is registered again through the API or the YAML stops
//     naming it (then there is nothing left to hide);
//   - API changes to a group the YAML no longer has are dropped.
//
// Threading: main thread only (the admin API runs on the control loop).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "conf/config.h"

namespace lb {

enum class TargetSource { config, api };
const char* to_string(TargetSource source);

class TargetRegistrations {
public:
    // The configuration to serve: `base` with the API's changes applied.
    conf::Config apply(const conf::Config& base) const;

    // Admin API: `group` exists in base. register_target replaces an earlier
    // API registration of the same address (new weight or zone).
    void register_target(const conf::Config& base, const std::string& group, conf::Target target);
    void deregister_target(const conf::Config& base, const std::string& group, const SocketAddress& address);

    TargetSource source(const std::string& group, const SocketAddress& address) const;

    // After a reload: drops what no longer applies to the new base; logs
    // API registrations lost with their group.
    void prune(const conf::Config& base);

private:
    struct GroupChanges {
        std::vector<conf::Target> added;       // registered through the API, not in the YAML
        std::vector<SocketAddress> removed;    // YAML targets deregistered through the API
        bool empty() const { return added.empty() && removed.empty(); }
    };

    std::map<std::string, GroupChanges> groups_;
};

}  // namespace lb

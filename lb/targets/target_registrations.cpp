#include "lb/targets/target_registrations.h"

#include <algorithm>

#include "lb/base/log.h"

namespace lb {

const char* to_string(TargetSource source) { return source == TargetSource::api ? "api" : "config"; }

conf::Config TargetRegistrations::apply(const conf::Config& base) const {
    conf::Config effective = base;
    for (auto& group : effective.target_groups) {
        auto it = groups_.find(group.name);
        if (it == groups_.end()) continue;
        const GroupChanges& changes = it->second;
        std::erase_if(group.targets, [&](const conf::Target& t) {
            return std::find(changes.removed.begin(), changes.removed.end(), t.addr) != changes.removed.end();
        });
        for (const auto& target : changes.added)
            if (!group.names_target(target.addr)) group.targets.push_back(target);
    }
    return effective;
}

void TargetRegistrations::register_target(const conf::Config& base, const std::string& group_name,
                                          conf::Target target) {
    const conf::TargetGroup* group = base.find_target_group(group_name);
    if (!group) return;
    GroupChanges& changes = groups_[group_name];
    std::erase(changes.removed, target.addr);
    std::erase_if(changes.added, [&](const conf::Target& t) { return t.addr == target.addr; });
    // A YAML target registered again is the YAML's again.
    if (!group->names_target(target.addr)) changes.added.push_back(std::move(target));
    if (changes.empty()) groups_.erase(group_name);
}

void TargetRegistrations::deregister_target(const conf::Config& base, const std::string& group_name,
                                            const SocketAddress& address) {
    const conf::TargetGroup* group = base.find_target_group(group_name);
    if (!group) return;
    GroupChanges& changes = groups_[group_name];
    std::erase_if(changes.added, [&](const conf::Target& t) { return t.addr == address; });
    if (group->names_target(address) &&
        std::find(changes.removed.begin(), changes.removed.end(), address) == changes.removed.end())
        changes.removed.push_back(address);
    if (changes.empty()) groups_.erase(group_name);
}

TargetSource TargetRegistrations::source(const std::string& group, const SocketAddress& address) const {
    auto it = groups_.find(group);
    if (it == groups_.end()) return TargetSource::config;
    for (const auto& target : it->second.added)
        if (target.addr == address) return TargetSource::api;
    return TargetSource::config;
}

void TargetRegistrations::prune(const conf::Config& base) {
    for (auto it = groups_.begin(); it != groups_.end();) {
        const conf::TargetGroup* group = base.find_target_group(it->first);
        if (!group) {
            if (!it->second.added.empty())
                LB_LOG_WARN("target group %s is gone from the config: dropping its %zu target(s) registered "
                            "through the admin API",
                            it->first.c_str(), it->second.added.size());
            it = groups_.erase(it);
            continue;
        }
        if (group->discovered()) {
            // DNS decides what a discovered group holds (README "Targets by DNS name").
            if (!it->second.added.empty())
                LB_LOG_WARN("target group %s now takes its targets from DNS: dropping its %zu target(s) registered "
                            "through the admin API",
                            it->first.c_str(), it->second.added.size());
            it = groups_.erase(it);
            continue;
        }
        GroupChanges& changes = it->second;
        std::erase_if(changes.removed, [&](const SocketAddress& a) { return !group->names_target(a); });
        // The YAML now names a target the API had added: the YAML owns it.
        std::erase_if(changes.added, [&](const conf::Target& t) { return group->names_target(t.addr); });
        if (changes.empty()) it = groups_.erase(it);
        else ++it;
    }
}

}  // namespace lb

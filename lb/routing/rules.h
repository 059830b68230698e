// Listener rules compiled once per config snapshot (README, "Rules"):
// evaluated by priority, lowest first; the first rule whose conditions all
// match decides the action; no match takes the default action.
//
// Threading: built on the main thread, then immutable and shared read-only by
// every worker through the runtime snapshot.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "conf/config.h"
#include "lb/base/result.h"

namespace lb {

// What a rule can look at. Views point into the request being routed and are
// only valid during match().
struct RequestView {
    std::string_view method;            // "GET"
    std::string_view host;              // Host header without the port; SNI for tls_passthrough
    std::string_view path;              // path only, no query, as received (not decoded)
    std::string_view query;             // raw query after '?', without '?'; may be empty
    // Request headers in arrival order; names as received (any case).
    const std::vector<std::pair<std::string_view, std::string_view>>* headers = nullptr;
    const SocketAddress* source = nullptr;  // client address (after PROXY protocol)
};

class RuleSet {
public:
    // Rules in any order; priorities are unique (the config loader checks).
    // Fails only on a pattern that cannot be compiled.
    static Result<std::shared_ptr<const RuleSet>> compile(const std::vector<conf::Rule>& rules,
                                                          const conf::Action& default_action);

    // The action to take for this request. Never null.
    virtual const conf::Action* match(const RequestView& request) const = 0;
    virtual ~RuleSet() = default;
};

}  // namespace lb

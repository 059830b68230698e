// Balancer: picks the next target of one target group. One file per
// algorithm behind this interface (balancer_round_robin.cpp, ...).
//
// Threading (Envoy's ThreadAwareLoadBalancer pattern): a BalancerFactory is
// built on the main thread once per config snapshot from immutable data and
// shared read-only by all workers; each worker calls create() once per
// snapshot and owns the Balancer it gets. A Balancer is never shared.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "conf/config.h"

namespace lb {

class TargetState;

struct BalancerTarget {
    TargetState* state;   // read by least_outstanding_requests and least_connections
    uint32_t weight;      // >= 1 here; weight 0 targets are never eligible
    std::string key;      // stable identity "address:port", hashed by Maglev
};

// A client_hash that stands for "no key": the `hash` algorithm balances
// such requests round robin (lb/worker/request_hash.h never hashes to it).
inline constexpr uint64_t kNoClientHash = 0;

class Balancer {
public:
    virtual ~Balancer() = default;
    // `eligible` holds ascending indices into the group's target list, never
    // empty: the targets that may take new traffic now (healthy, not
    // draining, in the chosen zone). `client_hash` is what the request is
    // hashed by (lb/worker/request_hash.h); only source_ip_hash and hash use
    // it. Returns one of `eligible`.
    virtual uint32_t pick(std::span<const uint32_t> eligible, uint64_t client_hash) = 0;
};

class BalancerFactory {
public:
    virtual ~BalancerFactory() = default;
    virtual std::unique_ptr<Balancer> create() const = 0;
};

std::unique_ptr<BalancerFactory> make_balancer_factory(conf::Algorithm algorithm,
                                                       std::vector<BalancerTarget> targets);

}  // namespace lb

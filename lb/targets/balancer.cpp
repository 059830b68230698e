#include "lb/targets/balancer.h"

#include "lb/targets/balancer_least_outstanding.h"
#include "lb/targets/balancer_maglev.h"
#include "lb/targets/balancer_round_robin.h"
#include "lb/targets/balancer_weighted_random.h"

namespace lb {

std::unique_ptr<BalancerFactory> make_balancer_factory(conf::Algorithm algorithm,
                                                       std::vector<BalancerTarget> targets) {
    switch (algorithm) {
        case conf::Algorithm::round_robin:
            return std::make_unique<RoundRobinBalancerFactory>(targets);
        case conf::Algorithm::least_outstanding_requests:
            return std::make_unique<LeastOutstandingBalancerFactory>(targets, false);
        case conf::Algorithm::least_connections:
            return std::make_unique<LeastOutstandingBalancerFactory>(targets, true);
        case conf::Algorithm::weighted_random:
            return std::make_unique<WeightedRandomBalancerFactory>(targets);
        case conf::Algorithm::source_ip_hash:
        case conf::Algorithm::hash:
            return std::make_unique<MaglevBalancerFactory>(targets);
    }
    return std::make_unique<RoundRobinBalancerFactory>(targets);
}

}  // namespace lb

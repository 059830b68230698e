// Cross-zone off (ALB/NLB `cross_zone: false`): a group's traffic is split
// across zones first — equally, or by the group's zone_weights — and only then
// by target weight inside the chosen zone. Zones with no eligible target drop
// out and the others share their part. 2 targets in zone A and 8 in zone B:
// A's targets get 25% each, B's 6.25% each.
//
// Targets without a zone form one zone named "". A zone missing from
// zone_weights weighs 1, like a target without a weight.
//
// Threading: ZoneSplit is built on the main thread per snapshot (one per group
// with cross_zone off) and read-only afterwards. ZoneRotation is per worker.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "lb/targets/balancer_round_robin.h"

namespace lb {

class ZoneSplit {
public:
    // target_zones[i] is target i's zone; zone_weights as in the config.
    ZoneSplit(std::span<const std::string> target_zones, const std::map<std::string, int>& zone_weights);

    size_t zone_count() const { return zones_.size(); }
    uint32_t zone_of(uint32_t target) const { return target_zone_[target]; }
    const std::string& name(uint32_t zone) const { return zones_[zone].name; }
    uint32_t weight(uint32_t zone) const { return zones_[zone].weight; }

    // present[z] = 1 when some target in `eligible` is in zone z.
    void mark_present(std::span<const uint32_t> eligible, std::vector<uint8_t>& present) const;

    // The zone for a client hash, among zones with an eligible target, by
    // weighted rendezvous hashing (Thaler & Ravishankar, "Using name-based
    // mappings to increase hit rates", IEEE/ACM ToN 1998; weights as in
    // Schindelhauer & Schomaker 2005): the same client picks the same zone in
    // every lb instance, and a zone dropping out moves only its own clients.
    // `eligible` must not be empty.
    uint32_t zone_for_hash(std::span<const uint32_t> eligible, uint64_t client_hash) const;

private:
    struct Zone {
        std::string name;
        uint32_t weight;
        uint64_t hash;  // of the name, for rendezvous hashing
    };
    std::vector<Zone> zones_;           // sorted by name
    std::vector<uint32_t> target_zone_;
};

// One worker's smooth weighted round robin over the zones that have an
// eligible target (the round_robin balancer's algorithm, applied to zones):
// zone shares are exact over every cycle, interleaved, and stay exact while
// zones come and go.
class ZoneRotation {
public:
    ZoneRotation() : rr_({}) {}
    explicit ZoneRotation(const ZoneSplit& split);
    // `eligible` must not be empty; `split` is the one this was built from.
    uint32_t pick(const ZoneSplit& split, std::span<const uint32_t> eligible);

private:
    SmoothWeightedRoundRobin rr_;   // indexed by zone
    std::vector<uint32_t> zones_;   // 0..zone_count-1
    std::vector<uint8_t> present_;  // scratch, so a pick does not allocate
};

}  // namespace lb

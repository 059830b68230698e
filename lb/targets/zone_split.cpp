#include "lb/targets/zone_split.h"

#include <algorithm>
#include <cmath>

#include "lb/base/hash.h"

namespace lb {

namespace {

// Keeps zone-name hashes apart from other uses of hash_bytes.
constexpr uint64_t kZoneSeed = 0x6c622d7a6f6e6573ULL;  // "lb-zones"

}  // namespace

ZoneSplit::ZoneSplit(std::span<const std::string> target_zones, const std::map<std::string, int>& zone_weights) {
    std::map<std::string, uint32_t> index;
    for (const std::string& zone : target_zones) index.emplace(zone, 0);
    for (auto& [name, slot] : index) {
        slot = static_cast<uint32_t>(zones_.size());
        auto configured = zone_weights.find(name);
        uint32_t weight = configured == zone_weights.end() ? 1 : static_cast<uint32_t>(std::max(configured->second, 1));
        zones_.push_back({name, weight, hash_bytes(name.data(), name.size(), kZoneSeed)});
    }
    target_zone_.reserve(target_zones.size());
    for (const std::string& zone : target_zones) target_zone_.push_back(index[zone]);
}

void ZoneSplit::mark_present(std::span<const uint32_t> eligible, std::vector<uint8_t>& present) const {
    present.assign(zones_.size(), 0);
    for (uint32_t target : eligible) present[target_zone_[target]] = 1;
}

uint32_t ZoneSplit::zone_for_hash(std::span<const uint32_t> eligible, uint64_t client_hash) const {
    thread_local std::vector<uint8_t> present;
    mark_present(eligible, present);
    uint32_t best = target_zone_[eligible.front()];
    double best_score = -1;
    for (uint32_t zone = 0; zone < zones_.size(); ++zone) {
        if (!present[zone]) continue;
        // u uniform in (0, 1) from the (client, zone) pair (half a step up
        // from [0, 1): -ln(0) is infinite); the highest weight / -ln(u)
        // wins, so zone z wins with probability w_z / sum w.
        const uint64_t mixed = mix64(client_hash ^ zones_[zone].hash);
        const double u = hash_to_unit(mixed) + 0x1.0p-54;
        const double score = zones_[zone].weight / -std::log(u);
        if (score > best_score) {
            best_score = score;
            best = zone;
        }
    }
    return best;
}

namespace {

std::vector<uint32_t> zone_weights(const ZoneSplit& split) {
    std::vector<uint32_t> weights;
    for (uint32_t zone = 0; zone < split.zone_count(); ++zone) weights.push_back(split.weight(zone));
    return weights;
}

}  // namespace

ZoneRotation::ZoneRotation(const ZoneSplit& split)
    : rr_(zone_weights(split)), zones_(split.zone_count()), present_(split.zone_count(), 0) {
    for (uint32_t zone = 0; zone < zones_.size(); ++zone) zones_[zone] = zone;
}

uint32_t ZoneRotation::pick(const ZoneSplit& split, std::span<const uint32_t> eligible) {
    split.mark_present(eligible, present_);
    return rr_.pick(zones_, [this](uint32_t zone) { return present_[zone] != 0; });
}

}  // namespace lb

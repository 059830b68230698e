#include "lb/targets/maglev_table.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>

#include "lb/base/hash.h"

namespace lb {

namespace {

// Two independent hashes of the key give the permutation (section 3.4:
// offset = h1(name) mod M, skip = h2(name) mod (M - 1) + 1). Fixed forever:
// other lb instances must derive the same permutations.
constexpr uint64_t kOffsetSeed = 0x4d61676c65764f66ULL;  // "MaglevOf"
constexpr uint64_t kSkipSeed = 0x4d61676c65765370ULL;    // "MaglevSp"

// The paper's guidance: M > 100 N keeps the share imbalance around 1%.
constexpr uint64_t kSlotsPerBackend = 100;

}  // namespace

bool MaglevTable::is_prime(uint32_t value) {
    if (value < 2) return false;
    if (value % 2 == 0) return value == 2;
    for (uint64_t d = 3; d * d <= value; d += 2) {
        if (value % d == 0) return false;
    }
    return true;
}

uint32_t MaglevTable::size_for(size_t backend_count) {
    const uint64_t wanted = static_cast<uint64_t>(backend_count) * kSlotsPerBackend;
    if (wanted <= kDefaultSize) return kDefaultSize;
    if (wanted > UINT32_MAX - 1000) throw std::invalid_argument("maglev: too many backends");
    auto size = static_cast<uint32_t>(wanted);
    while (!is_prime(size)) ++size;
    return size;
}

MaglevTable MaglevTable::build(std::span<const std::string> keys, std::span<const uint32_t> weights,
                               uint32_t size) {
    if (keys.size() != weights.size()) throw std::invalid_argument("maglev: keys and weights differ in length");
    if (!is_prime(size)) throw std::invalid_argument("maglev: table size must be prime");
    if (keys.size() > size) throw std::invalid_argument("maglev: more backends than table slots");

    MaglevTable table;
    const size_t count = keys.size();
    table.backend_count_ = static_cast<uint32_t>(count);
    if (count == 0) return table;
    table.entries_.assign(size, kNoBackend);

    // Turn order follows the keys, not the caller's order, so a reordered
    // target list builds the same table (ties: duplicate keys keep input order).
    std::vector<uint32_t> order(count);
    std::iota(order.begin(), order.end(), 0u);
    std::stable_sort(order.begin(), order.end(),
                     [&](uint32_t a, uint32_t b) { return keys[a] < keys[b]; });

    struct Walker {
        uint32_t backend;
        uint64_t weight;
        uint64_t next_slot;  // permutation[backend][next], kept as a slot
        uint64_t skip;
        uint64_t credit;
    };
    std::vector<Walker> walkers;
    walkers.reserve(count);
    uint64_t max_weight = 1;
    for (uint32_t backend : order) {
        const std::string& key = keys[backend];
        const uint64_t weight = std::max<uint32_t>(weights[backend], 1);
        max_weight = std::max(max_weight, weight);
        walkers.push_back(Walker{
            .backend = backend,
            .weight = weight,
            .next_slot = hash_bytes(key.data(), key.size(), kOffsetSeed) % size,
            .skip = hash_bytes(key.data(), key.size(), kSkipSeed) % (size - 1) + 1,
            .credit = 0,
        });
    }
    // Start every backend one round short of a turn: each claims a slot in the
    // first round, so even a tiny weight owns at least one slot.
    for (Walker& walker : walkers) walker.credit = max_weight - walker.weight;

    // Section 3.4's populate loop, weighted: per round each backend earns its
    // weight in credit and takes one turn per max_weight of credit, so the
    // heaviest take a turn every round and the rest proportionally less often.
    uint32_t filled = 0;
    while (true) {
        for (Walker& walker : walkers) {
            walker.credit += walker.weight;
            while (walker.credit >= max_weight) {
                walker.credit -= max_weight;
                // skip is in [1, size-1] and size is prime, so the walk visits
                // every slot: a free one exists while filled < size.
                uint64_t slot = walker.next_slot;
                while (table.entries_[slot] != kNoBackend) {
                    slot += walker.skip;
                    if (slot >= size) slot -= size;
                }
                table.entries_[slot] = walker.backend;
                slot += walker.skip;
                if (slot >= size) slot -= size;
                walker.next_slot = slot;
                if (++filled == size) return table;
            }
        }
    }
}

}  // namespace lb

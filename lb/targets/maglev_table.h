// MaglevTable: the lookup table of Maglev consistent hashing (Eisenbud et al.,
// "Maglev: A Fast and Reliable Software Network Load Balancer", NSDI 2016,
// section 3.4). Each backend walks its own permutation of the table's slots
// (offset + j * skip mod size) and backends take turns claiming their next
// free preferred slot until the table is full. Result: near-equal shares and
// minimal disruption when the backend set changes.
//
// Weighted: a backend takes turns in proportion to its weight, so its share of
// slots is weight / total weight (within a slot or two).
//
// Deterministic across processes and machines (lb/base/hash.h, keys processed in
// sorted order), so several lb instances with the same (key, weight) set build
// identical tables without talking to each other — whatever order the targets
// are listed in.
//
// Threading: built on the main thread, immutable afterwards; share it freely.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace lb {

class MaglevTable {
public:
    static constexpr uint32_t kDefaultSize = 65537;  // prime, as the paper's small table
    static constexpr uint32_t kNoBackend = UINT32_MAX;

    // An empty table: lookups return kNoBackend.
    MaglevTable() = default;

    // keys[i] names backend i (stable identity, e.g. "10.0.0.1:80"); weights[i]
    // is its relative weight (0 is treated as 1). `size` must be prime and at
    // least keys.size(); the paper wants size >> keys.size() (x100 keeps the
    // imbalance near 1%). Throws std::invalid_argument when those preconditions
    // are broken (caller bugs; size_for() always gives a valid size).
    static MaglevTable build(std::span<const std::string> keys, std::span<const uint32_t> weights,
                             uint32_t size = kDefaultSize);

    // kDefaultSize, or for very large groups the smallest prime >= 100 x backends.
    static uint32_t size_for(size_t backend_count);
    static bool is_prime(uint32_t value);

    uint32_t size() const { return static_cast<uint32_t>(entries_.size()); }
    uint32_t backend_count() const { return backend_count_; }
    bool empty() const { return entries_.empty(); }

    // The slot a hash lands in; lookup() is entries()[slot_for(hash)].
    uint32_t slot_for(uint64_t hash) const { return static_cast<uint32_t>(hash % entries_.size()); }

    // Backend index for a hash (e.g. hash_client_address()); O(1).
    uint32_t lookup(uint64_t hash) const {
        return entries_.empty() ? kNoBackend : entries_[slot_for(hash)];
    }

    // Like lookup(), but when the slot's backend is not allowed(index), probes
    // further slots in a fixed order derived from the hash until one is, so
    // hashes whose backend is allowed never move. Double hashing (step taken
    // from the hash's high bits, size prime so all slots are visited) rather
    // than slot+1: clients of one slot spread over several backends instead
    // of all landing on the neighbour's owner. kNoBackend if none is allowed.
    // Expected probes ~ total weight / allowed weight.
    template <class Allowed>
    uint32_t lookup_allowed(uint64_t hash, Allowed&& allowed) const {
        if (entries_.empty()) return kNoBackend;
        const uint64_t size = entries_.size();
        uint64_t slot = hash % size;
        if (allowed(entries_[slot])) return entries_[slot];
        if (size == 1) return kNoBackend;
        const uint64_t step = 1 + (hash >> 32) % (size - 1);
        for (uint64_t probes = 1; probes < size; ++probes) {
            slot += step;
            if (slot >= size) slot -= size;
            if (allowed(entries_[slot])) return entries_[slot];
        }
        return kNoBackend;
    }

    // Slot -> backend index; every slot is filled when backend_count() > 0.
    std::span<const uint32_t> entries() const { return entries_; }

private:
    std::vector<uint32_t> entries_;
    uint32_t backend_count_ = 0;
};

}  // namespace lb

#include "lb/base/hash.h"

#include <array>

namespace lb {

namespace {

// FNV-1a 64-bit parameters (Fowler, Noll, Vo; draft-eastlake-fnv).
constexpr uint64_t kFnvOffsetBasis = 0xcbf29ce484222325ULL;
constexpr uint64_t kFnvPrime = 0x00000100000001b3ULL;

// Keeps client-address hashes apart from other uses of hash_bytes.
constexpr uint64_t kClientAddressSeed = 0x6c622d636c69656eULL;  // "lb-clien"

}  // namespace

// MurmurHash3's fmix64 (Austin Appleby, public domain): FNV-1a alone leaves
// the high bits weakly mixed for short keys; this finalizer avalanches them.
uint64_t mix64(uint64_t value) {
    value ^= value >> 33;
    value *= 0xff51afd7ed558ccdULL;
    value ^= value >> 33;
    value *= 0xc4ceb9fe1a85ec53ULL;
    value ^= value >> 33;
    return value;
}

uint64_t hash_bytes(const void* data, size_t size, uint64_t seed) {
    // The seed perturbs the starting state through the finalizer, so nearby
    // seeds (0, 1, 2) still start FNV from unrelated states.
    uint64_t state = kFnvOffsetBasis ^ mix64(seed);
    const auto* bytes = static_cast<const uint8_t*>(data);
    for (size_t i = 0; i < size; ++i) {
        state ^= bytes[i];
        state *= kFnvPrime;
    }
    return mix64(state);
}

uint64_t hash_client_address(const SocketAddress& address) {
    const std::array<uint8_t, 16> ip = address.ip_bytes();
    return hash_bytes(ip.data(), ip.size(), kClientAddressSeed);
}

}  // namespace lb

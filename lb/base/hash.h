// Deterministic 64-bit hashing: the same bytes give the same value in every
// process, run and machine (unlike std::hash). Several lb instances agree on
// source_ip_hash / Maglev placement only because of this, so the outputs are
// pinned by tests/unit/lb/hash_test.cpp; changing them is a breaking change.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lb/base/net_address.h"

namespace lb {

// FNV-1a 64 over the bytes, then a strong avalanche finalizer so every output
// bit depends on every input bit. Different seeds give independent-looking
// hashes of the same bytes (Maglev draws offset and skip this way).
uint64_t hash_bytes(const void* data, size_t size, uint64_t seed = 0);

// The client's IP (port ignored). IPv4 and IPv4-mapped IPv6 hash the same,
// so a dual-stack listener puts a client in one place either way.
uint64_t hash_client_address(const SocketAddress& address);

// The avalanche finalizer alone (bijective on 64 bits).
uint64_t mix64(uint64_t value);

// A well-mixed hash as a number uniform in [0, 1): its top 53 bits, all a
// double holds, so every value is exact.
inline double hash_to_unit(uint64_t hash) { return static_cast<double>(hash >> 11) * 0x1.0p-53; }

}  // namespace lb

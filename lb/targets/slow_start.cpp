#include "lb/targets/slow_start.h"

#include "lb/base/hash.h"

namespace lb {

double slow_start_share(int64_t started_ms, int64_t now_ms, int64_t duration_ms) {
    if (started_ms == 0 || duration_ms <= 0) return 1.0;
    int64_t elapsed = now_ms - started_ms;
    if (elapsed >= duration_ms) return 1.0;
    if (elapsed <= 0) return 0.0;
    return static_cast<double>(elapsed) / static_cast<double>(duration_ms);
}

double client_roll(uint64_t client_hash) {
    // The hash remixed under a salt, so the roll does not correlate with
    // whatever the Maglev table did with the hash itself.
    return hash_to_unit(mix64(client_hash ^ 0x9e3779b97f4a7c15ull));
}

}  // namespace lb

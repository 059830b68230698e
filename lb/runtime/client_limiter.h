// ClientLimiter: one listener's per-client limits (README "Per-client
// limits"): connections open at once, and new connections and requests per
// second with a burst, counted exactly over all workers together.
//
// A fixed table of slots, one per active client address (IPv6 by /64),
// found by open addressing on a keyed hash (the key is random per process,
// so nobody can aim their address at another client's slot). Each slot
// holds the client's open connections and, per rate, a GCRA "theoretical
// arrival time": a token bucket kept in one number, so every check and
// update is one atomic operation. No locks, no allocation after start.
//
// Slots are reused, not freed: a worker pins a slot (a count in the slot's
// key word) while it uses it, and a client with no open connection and full
// buckets may lose its slot to a newcomer, which is then as good as new to
// it. If every slot a newcomer may use belongs to a busy client, it is let
// through uncounted (and counted as `table_full`): a limiter must not turn
// away clients it simply cannot see.
//
// Threading: created on the main thread when a listener first has
// client_limits, shared by every worker, kept across reloads (open
// connections must stay counted). Two workers racing on one client at the
// edge of a limit may each see the other's event or not; the result is
// never more than one event per worker past the limit.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "lb/base/net_address.h"

namespace lb {

class ClientLimiter {
public:
    static constexpr size_t kSlots = 32768;
    static constexpr size_t kProbe = 32;  // slots a client may live in

    ClientLimiter();
    ClientLimiter(const ClientLimiter&) = delete;
    ClientLimiter& operator=(const ClientLimiter&) = delete;

    struct Slot;
    enum class Verdict { admitted, refused, table_full };

    // One open connection more for `client` unless it has `max`. On
    // admitted, *held is the slot to give back through release_connection.
    Verdict acquire_connection(const SocketAddress& client, int max, int64_t now_us, Slot** held);
    static void release_connection(Slot* held);

    enum class Rate { connection, request };
    // One event of `rate` now, unless over `per_second` with `burst` at
    // once from an idle client (per_second 0: no limit); `retry_after_us`
    // says when the next one would fit.
    Verdict admit(Rate rate, const SocketAddress& client, uint32_t per_second, uint32_t burst, int64_t now_us,
                  int64_t* retry_after_us = nullptr);

    int open_connections(const SocketAddress& client) const;  // tests and stats

    struct Slot {
        // key (high 48 bits) | pins (low 16 bits); key 0: never used,
        // key 1: being reset.
        std::atomic<uint64_t> word{0};
        std::atomic<int32_t> connections{0};
        std::atomic<int64_t> tat[2] = {0, 0};  // by Rate, microseconds
    };

private:
    uint64_t key_of(const SocketAddress& client) const;
    Slot* pin(uint64_t key, int64_t now_us);
    static void unpin(Slot* slot);
    static bool idle(const Slot& slot, int64_t now_us);

    std::unique_ptr<Slot[]> slots_;
    uint64_t seed_;
};

// Steady-clock microseconds: the time base of ClientLimiter.
int64_t monotonic_us();

}  // namespace lb

#include "lb/runtime/client_limiter.h"

#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <chrono>

#include "lb/base/hash.h"

namespace lb {

namespace {

constexpr uint64_t kPinMask = 0xffff;
constexpr uint64_t kReserved = 1ULL << 16;  // key 1

uint64_t key_bits(uint64_t word) { return word & ~kPinMask; }

}  // namespace

ClientLimiter::ClientLimiter() : slots_(std::make_unique<Slot[]>(kSlots)) {
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&seed_), sizeof(seed_)) != 1)
        seed_ = mix64(static_cast<uint64_t>(monotonic_us()));  // still correct, only guessable
}

uint64_t ClientLimiter::key_of(const SocketAddress& client) const {
    std::array<uint8_t, 16> ip = client.ip_bytes();
    bool v4 = ip[10] == 0xff && ip[11] == 0xff && std::all_of(ip.begin(), ip.begin() + 10, [](uint8_t b) { return !b; });
    // One IPv6 host usually holds a whole /64: counting each address alone
    // would let it take a fresh one for every connection.
    if (!v4) std::fill(ip.begin() + 8, ip.end(), 0);
    uint64_t key = key_bits(hash_bytes(ip.data(), ip.size(), seed_));
    return key <= kReserved ? key + 2 * kReserved : key;  // never 0 (unused) or 1 (reserved)
}

bool ClientLimiter::idle(const Slot& slot, int64_t now_us) {
    return slot.connections.load(std::memory_order_relaxed) <= 0 &&
           slot.tat[0].load(std::memory_order_relaxed) <= now_us &&
           slot.tat[1].load(std::memory_order_relaxed) <= now_us;
}

void ClientLimiter::unpin(Slot* slot) { slot->word.fetch_sub(1, std::memory_order_release); }

// The client's slot, pinned, or null when the table has no room for it.
ClientLimiter::Slot* ClientLimiter::pin(uint64_t key, int64_t now_us) {
    const size_t start = (key >> 16) % kSlots;
    // Its own slot, or the first never-used one, which it takes.
    for (size_t i = 0; i < kProbe; ++i) {
        Slot* slot = &slots_[(start + i) % kSlots];
        uint64_t word = slot->word.load(std::memory_order_acquire);
        while (true) {
            if (key_bits(word) == key) {
                if (slot->word.compare_exchange_weak(word, word + 1, std::memory_order_acquire)) return slot;
                continue;  // pins changed, or the slot went to someone else: look again
            }
            if (word == 0) {
                if (slot->word.compare_exchange_weak(word, key + 1, std::memory_order_acquire)) return slot;
                continue;  // someone claimed it: maybe for this very client
            }
            break;
        }
    }
    // Every slot in reach is in use: take over one whose client has nothing
    // open and nothing owed. While reserved nobody can pin it, so the
    // second look at it is reliable.
    for (size_t i = 0; i < kProbe; ++i) {
        Slot* slot = &slots_[(start + i) % kSlots];
        uint64_t word = slot->word.load(std::memory_order_acquire);
        if ((word & kPinMask) != 0 || key_bits(word) == kReserved || !idle(*slot, now_us)) continue;
        if (!slot->word.compare_exchange_strong(word, kReserved, std::memory_order_acquire)) continue;
        if (!idle(*slot, now_us)) {
            slot->word.store(word, std::memory_order_release);  // its client came back meanwhile
            continue;
        }
        slot->connections.store(0, std::memory_order_relaxed);
        slot->tat[0].store(0, std::memory_order_relaxed);
        slot->tat[1].store(0, std::memory_order_relaxed);
        slot->word.store(key + 1, std::memory_order_release);
        return slot;
    }
    return nullptr;
}

ClientLimiter::Verdict ClientLimiter::acquire_connection(const SocketAddress& client, int max, int64_t now_us,
                                                         Slot** held) {
    *held = nullptr;
    Slot* slot = pin(key_of(client), now_us);
    if (!slot) return Verdict::table_full;
    Verdict verdict = Verdict::admitted;
    if (slot->connections.fetch_add(1, std::memory_order_relaxed) >= max) {
        slot->connections.fetch_sub(1, std::memory_order_relaxed);
        verdict = Verdict::refused;
    } else {
        *held = slot;  // an open connection keeps the slot its client's
    }
    unpin(slot);
    return verdict;
}

void ClientLimiter::release_connection(Slot* held) {
    if (held) held->connections.fetch_sub(1, std::memory_order_relaxed);
}

// GCRA (the ATM Forum's generic cell rate algorithm): events are due
// `interval` apart; one may come early by up to `tolerance`, which is what
// lets `burst` of them through at once from an idle client.
ClientLimiter::Verdict ClientLimiter::admit(Rate rate, const SocketAddress& client, uint32_t per_second,
                                            uint32_t burst, int64_t now_us, int64_t* retry_after_us) {
    if (per_second == 0) return Verdict::admitted;
    Slot* slot = pin(key_of(client), now_us);
    if (!slot) return Verdict::table_full;
    const int64_t interval = std::max<int64_t>(1, 1'000'000 / per_second);
    const int64_t tolerance = interval * (std::max<uint32_t>(burst, 1) - 1);
    std::atomic<int64_t>& tat = slot->tat[rate == Rate::connection ? 0 : 1];
    int64_t seen = tat.load(std::memory_order_relaxed);
    Verdict verdict = Verdict::admitted;
    while (true) {
        int64_t due = std::max(seen, now_us);
        if (due - now_us > tolerance) {
            if (retry_after_us) *retry_after_us = due - now_us - tolerance;
            verdict = Verdict::refused;
            break;
        }
        if (tat.compare_exchange_weak(seen, due + interval, std::memory_order_relaxed)) break;
    }
    unpin(slot);
    return verdict;
}

int ClientLimiter::open_connections(const SocketAddress& client) const {
    uint64_t key = key_of(client);
    const size_t start = (key >> 16) % kSlots;
    for (size_t i = 0; i < kProbe; ++i) {
        const Slot& slot = slots_[(start + i) % kSlots];
        if (key_bits(slot.word.load(std::memory_order_acquire)) == key)
            return slot.connections.load(std::memory_order_relaxed);
    }
    return 0;
}

int64_t monotonic_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

}  // namespace lb

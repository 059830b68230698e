// Shared by the libFuzzer harnesses: a check that fails loudly (abort, so
// libFuzzer saves the input as a crash), and cutting an input into the
// pieces a socket might deliver it in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

namespace lb::fuzz {

[[noreturn]] inline void check_failed(const char* file, int line, const char* condition) {
    std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n", file, line, condition);
    std::abort();
}

#define FUZZ_CHECK(condition)                                                            \
    do {                                                                                 \
        if (!(condition)) ::lb::fuzz::check_failed(__FILE__, __LINE__, #condition);      \
    } while (0)

// The same, printing `text` (a std::string or string_view) before failing.
#define FUZZ_CHECK_SHOW(condition, text)                                                 \
    do {                                                                                 \
        if (!(condition)) {                                                              \
            std::fprintf(stderr, "%.*s\n", static_cast<int>((text).size()), (text).data()); \
            ::lb::fuzz::check_failed(__FILE__, __LINE__, #condition);                    \
        }                                                                                \
    } while (0)

// FNV-1a: a seed that depends on the whole input, so a saved reproducer
// replays exactly the same split.
inline uint64_t seed_of(std::string_view data) {
    uint64_t hash = 0xcbf29ce484222325ULL;
    for (char c : data) hash = (hash ^ static_cast<uint8_t>(c)) * 0x100000001b3ULL;
    return hash;
}

// splitmix64 step.
inline uint64_t next_random(uint64_t& state) {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// `data` cut into pieces of 1..max_piece bytes, sizes drawn from `seed`.
// Together the pieces are exactly `data`; an empty input is one empty piece.
inline std::vector<std::string_view> split(std::string_view data, uint64_t seed, size_t max_piece) {
    std::vector<std::string_view> pieces;
    if (data.empty() || max_piece == 0) {
        pieces.push_back(data);
        return pieces;
    }
    uint64_t state = seed;
    while (!data.empty()) {
        size_t size = 1 + static_cast<size_t>(next_random(state) % max_piece);
        if (size > data.size()) size = data.size();
        pieces.push_back(data.substr(0, size));
        data.remove_prefix(size);
    }
    return pieces;
}

// Whether one of the two is a prefix of the other.
inline bool one_prefixes_other(std::string_view a, std::string_view b) {
    return a.size() <= b.size() ? b.substr(0, a.size()) == a : a.substr(0, b.size()) == b;
}

// One byte at a time: every boundary a parser can meet.
inline std::vector<std::string_view> bytewise(std::string_view data) { return split(data, 0, 1); }

}  // namespace lb::fuzz

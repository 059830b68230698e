#include "lb/worker/request_hash.h"

#include <array>

#include "lb/base/hash.h"
#include "lb/http/cookies.h"

namespace lb {

namespace {

constexpr uint64_t kKeySeed = 0x6c622d686173686bULL;  // "lb-hashk"

// Never kNoClientHash, which means "no key".
uint64_t nonzero(uint64_t hash) { return hash == kNoClientHash ? 1 : hash; }

std::optional<std::string_view> query_value(std::string_view query, std::string_view name) {
    while (!query.empty()) {
        size_t amp = query.find('&');
        std::string_view pair = query.substr(0, amp);
        size_t eq = pair.find('=');
        if (pair.substr(0, eq) == name) return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return std::nullopt;
}

}  // namespace

uint64_t hash_client_prefix(const conf::HashKey& key, const SocketAddress& client) {
    std::array<uint8_t, 16> ip = client.ip_bytes();
    bool v4 = true;
    for (int i = 0; i < 10; ++i) v4 = v4 && ip[i] == 0;
    v4 = v4 && ip[10] == 0xff && ip[11] == 0xff;
    const int keep = v4 ? 96 + key.ipv4_prefix : key.ipv6_prefix;
    for (int bit = keep; bit < 128; ++bit) ip[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
    return nonzero(hash_bytes(ip.data(), ip.size(), kKeySeed));
}

uint64_t request_hash(const conf::TargetGroup& group, const SocketAddress& client, const HttpHead* head,
                      std::string_view query) {
    if (group.algorithm != conf::Algorithm::hash) return hash_client_address(client);
    const conf::HashKey& key = group.hash_key;
    std::optional<std::string_view> value;
    switch (key.kind) {
        case conf::HashKey::Kind::none: return kNoClientHash;
        case conf::HashKey::Kind::client_ip: return hash_client_prefix(key, client);
        case conf::HashKey::Kind::header:
            if (head) value = head->header(key.name);
            break;
        case conf::HashKey::Kind::cookie:
            if (head) value = find_cookie(*head, key.name);
            break;
        case conf::HashKey::Kind::query: value = query_value(query, key.name); break;
    }
    if (!value || value->empty()) return kNoClientHash;
    return nonzero(hash_bytes(value->data(), value->size(), kKeySeed));
}

}  // namespace lb

#include "listeners/trusted_proxies.h"

#include <string>
#include <vector>

namespace lb {

namespace {

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

}  // namespace

bool is_trusted_proxy(const SocketAddress& address, std::span<const Cidr> trusted) {
    for (const auto& cidr : trusted)
        if (cidr.contains(address)) return true;
    return false;
}

SocketAddress client_behind_proxies(const SocketAddress& peer, const HttpHead& request,
                                    std::span<const Cidr> trusted) {
    if (!is_trusted_proxy(peer, trusted)) return peer;
    thread_local std::vector<std::string_view> entries;
    entries.clear();
    for (const auto& [name, value] : request.headers) {
        if (!iequals(name, "x-forwarded-for")) continue;
        std::string_view rest = value;
        while (true) {
            size_t comma = rest.find(',');
            entries.push_back(trim(rest.substr(0, comma)));
            if (comma == std::string_view::npos) break;
            rest.remove_prefix(comma + 1);
        }
    }
    SocketAddress client = peer;
    for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
        auto address = SocketAddress::from_ip(*it, 0);
        if (!address) break;
        client = *address;
        if (!is_trusted_proxy(client, trusted)) break;
    }
    return client;
}

}  // namespace lb

#include "listeners/trusted_proxies.h"

#include <string>
#include <vector>

namespace lb {

SocketAddress client_behind_proxies(const SocketAddress& peer, const HttpHead& request,
                                    std::span<const Cidr> trusted) {
    if (!in_any(trusted, peer)) return peer;
    thread_local std::vector<std::string_view> entries;
    entries.clear();
    for (const auto& [name, value] : request.headers) {
        if (!iequals(name, "x-forwarded-for")) continue;
        std::string_view rest = value;
        while (true) {
            size_t comma = rest.find(',');
            entries.push_back(trim_spaces(rest.substr(0, comma)));
            if (comma == std::string_view::npos) break;
            rest.remove_prefix(comma + 1);
        }
    }
    SocketAddress client = peer;
    for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
        auto address = SocketAddress::from_ip(*it, 0);
        if (!address) break;
        client = *address;
        if (!in_any(trusted, client)) break;
    }
    return client;
}

}  // namespace lb

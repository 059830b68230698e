// SniTable: which certificate slot answers a TLS server name (SNI), the way
// an ALB picks a certificate: an exact name first, then a wildcard
// "*.example.com" (which covers exactly one more label: a.example.com, not
// example.com nor a.b.example.com), else nothing and the caller uses its
// default. Names compare case-insensitively; a trailing dot is ignored.
//
// Built once on the main thread, then read-only.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace lb::tls {

class SniTable {
public:
    // A certificate name (SAN DNS name or CN). The first slot to claim a name keeps it.
    void add(std::string_view name, size_t slot);
    std::optional<size_t> find(std::string_view server_name) const;
    bool empty() const { return exact_.empty() && wildcard_.empty(); }

    // Lower case, no trailing dot; empty if not a plausible DNS name.
    static std::string normalize(std::string_view name);

private:
    std::unordered_map<std::string, size_t> exact_;
    std::unordered_map<std::string, size_t> wildcard_;  // "example.com" for "*.example.com"
};

}  // namespace lb::tls

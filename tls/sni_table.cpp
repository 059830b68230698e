#include "tls/sni_table.h"

namespace lb::tls {

std::string SniTable::normalize(std::string_view name) {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    if (name.empty() || name.size() > 253) return {};
    std::string out;
    out.reserve(name.size());
    for (char c : name) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '*';
        if (!ok) return {};
        out.push_back(c);
    }
    return out;
}

void SniTable::add(std::string_view name, size_t slot) {
    std::string normalized = normalize(name);
    if (normalized.empty()) return;
    if (normalized.size() > 2 && normalized.starts_with("*.")) {
        std::string suffix = normalized.substr(2);
        // Only a whole leftmost label may be a wildcard ("*.a.b", not "*.*.b" or "f*.b").
        if (suffix.find('*') != std::string::npos || suffix.find('.') == std::string::npos) return;
        wildcard_.emplace(std::move(suffix), slot);
        return;
    }
    if (normalized.find('*') != std::string::npos) return;
    exact_.emplace(std::move(normalized), slot);
}

std::optional<size_t> SniTable::find(std::string_view server_name) const {
    std::string name = normalize(server_name);
    if (name.empty() || name.find('*') != std::string::npos) return std::nullopt;
    if (auto it = exact_.find(name); it != exact_.end()) return it->second;
    // The wildcard covers exactly the leftmost label: "a.example.com" -> "example.com".
    auto dot = name.find('.');
    if (dot == std::string::npos || dot == 0) return std::nullopt;
    if (auto it = wildcard_.find(name.substr(dot + 1)); it != wildcard_.end()) return it->second;
    return std::nullopt;
}

}  // namespace lb::tls

// ASCII case folding, as header names, tokens, host names and lb's own
// config words are (RFC 9110 section 5.1). std::tolower is a locale-aware
// library call, and was a tenth of the worker's user time under keep-alive
// load, so nothing on lb's paths uses it.
#pragma once

#include <string>
#include <string_view>

namespace lb {

inline char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c | 0x20) : c; }

inline std::string ascii_lower(std::string text) {
    for (char& c : text) c = ascii_lower(c);
    return text;
}

inline bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    return true;
}

}  // namespace lb

// Percent-decoding of URL text (RFC 3986 section 2.1), as lb applies it to
// query parameters in rules and to admin API path segments: %XX becomes the
// byte (either hex case), '+' stays '+', a malformed escape stays literal.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace lb {

// The value of one hex digit (either case), or -1.
constexpr int hex_digit_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Writes the decoded bytes to `out`, which must hold in.size() bytes (the
// result is never longer); returns how many were written. No allocation.
size_t percent_decode(std::string_view in, char* out);

inline std::string percent_decode(std::string_view in) {
    std::string out(in.size(), '\0');
    out.resize(percent_decode(in, out.data()));
    return out;
}

}  // namespace lb

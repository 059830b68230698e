#include "lb/http/path_normalize.h"

#include <vector>

#include "lb/http/percent_decode.h"

namespace lb {

namespace {

bool is_unreserved(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~';
}

// RFC 3986 section 5.2.4 on an absolute path, segment by segment: "."
// goes, ".." takes the segment before it with it, and either one at the end
// leaves a trailing slash ("/a/b/.." is "/a/").
std::string remove_dot_segments(std::string_view path) {
    std::vector<std::string_view> kept;
    std::string_view rest = path.substr(1);  // after the leading '/'
    while (true) {
        size_t slash = rest.find('/');
        std::string_view segment = rest.substr(0, slash);
        bool last = slash == std::string_view::npos;
        if (segment == "." || segment == "..") {
            if (segment == ".." && !kept.empty()) kept.pop_back();
            if (last) kept.emplace_back();
        } else {
            kept.push_back(segment);
        }
        if (last) break;
        rest.remove_prefix(slash + 1);
    }
    std::string out;
    out.reserve(path.size());
    for (std::string_view segment : kept) {
        out.push_back('/');
        out.append(segment);
    }
    if (out.empty()) out.push_back('/');
    return out;
}

}  // namespace

std::optional<std::string> normalize_path(std::string_view path, bool merge_slashes) {
    std::string decoded;
    decoded.reserve(path.size());
    for (size_t i = 0; i < path.size(); ++i) {
        char c = path[i];
        if (c == '%') {
            int high = i + 1 < path.size() ? hex_digit_value(path[i + 1]) : -1;
            int low = i + 2 < path.size() ? hex_digit_value(path[i + 2]) : -1;
            if (high < 0 || low < 0) return std::nullopt;
            char byte = static_cast<char>(high * 16 + low);
            if (is_unreserved(byte)) {
                decoded.push_back(byte);
            } else {
                static constexpr char kHex[] = "0123456789ABCDEF";
                decoded.push_back('%');
                decoded.push_back(kHex[high]);
                decoded.push_back(kHex[low]);
            }
            i += 2;
            continue;
        }
        if (merge_slashes && c == '/' && !decoded.empty() && decoded.back() == '/') continue;
        decoded.push_back(c);
    }
    return remove_dot_segments(decoded);
}

}  // namespace lb

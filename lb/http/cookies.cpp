#include "lb/http/cookies.h"

#include <ctime>
#include <string>
#include <vector>

namespace lb {

namespace {

// An Expires attribute in the past ("Thu, 01 Jan 1970 00:00:00 GMT", the
// usual way to delete a cookie). Unparsable dates are not a deletion.
bool expires_in_past(std::string_view value) {
    std::string text(value);
    std::tm parts{};
    const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &parts);
    if (!end) end = strptime(text.c_str(), "%a, %d-%b-%Y %H:%M:%S GMT", &parts);  // the old Netscape form
    return end && *end == '\0' && timegm(&parts) <= std::time(nullptr);
}

template <class Fn>
void for_each_pair(std::string_view header, Fn fn) {
    while (!header.empty()) {
        size_t semi = header.find(';');
        std::string_view pair = trim_spaces(header.substr(0, semi));
        if (!pair.empty()) {
            size_t eq = pair.find('=');
            std::string_view name = trim_spaces(pair.substr(0, eq));
            std::string_view value = eq == std::string_view::npos ? std::string_view() : trim_spaces(pair.substr(eq + 1));
            if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
            fn(pair, name, value);
        }
        if (semi == std::string_view::npos) break;
        header.remove_prefix(semi + 1);
    }
}

}  // namespace

std::optional<std::string_view> find_cookie(const HttpHead& request, std::string_view name) {
    for (const auto& [key, header] : request.headers) {
        if (!iequals(key, "cookie")) continue;
        std::optional<std::string_view> found;
        for_each_pair(std::string_view(header), [&](std::string_view, std::string_view n, std::string_view v) {
            if (!found && n == name) found = v;
        });
        if (found) return found;
    }
    return std::nullopt;
}

void remove_cookie(HttpHead& request, std::string_view name) {
    auto& headers = request.headers;
    for (size_t i = 0; i < headers.size();) {
        if (!iequals(headers[i].first, "cookie") || headers[i].second.find(name) == std::string::npos) {
            ++i;
            continue;
        }
        std::string kept;
        for_each_pair(std::string_view(headers[i].second), [&](std::string_view pair, std::string_view n, std::string_view) {
            if (n == name) return;
            if (!kept.empty()) kept.append("; ");
            kept.append(pair);
        });
        if (kept.empty()) {
            headers.erase(headers.begin() + static_cast<std::ptrdiff_t>(i));
        } else {
            headers[i].second = std::move(kept);
            ++i;
        }
    }
}

std::optional<SetCookie> find_set_cookie(const HttpHead& response, std::string_view name) {
    for (const auto& [key, header] : response.headers) {
        if (!iequals(key, "set-cookie")) continue;
        std::optional<SetCookie> found;
        bool first = true, max_age = false, expired = false;
        for_each_pair(std::string_view(header), [&](std::string_view, std::string_view n, std::string_view v) {
            if (first) {
                // The first pair is the cookie; the rest are its attributes.
                first = false;
                if (n == name) found = SetCookie{v, v.empty()};
            } else if (found && n.size() == 7 && iequals(n, "max-age")) {
                // RFC 6265 5.2.2: zero or negative means "expire now".
                max_age = true;
                if (!v.empty() && (v.front() == '-' || v.find_first_not_of('0') == std::string_view::npos))
                    found->deletes = true;
            } else if (found && n.size() == 7 && iequals(n, "expires")) {
                expired = expires_in_past(v);
            }
        });
        // Max-Age wins over Expires when both are there (RFC 6265 5.3 step 3).
        if (found && expired && !max_age) found->deletes = true;
        if (found) return found;
    }
    return std::nullopt;
}

std::string set_cookie_header(std::string_view name, std::string_view value, int64_t max_age_seconds, bool secure) {
    std::string out = "Set-Cookie: ";
    out.append(name);
    out.push_back('=');
    out.append(value);
    out.append("; Path=/; Max-Age=");
    out.append(std::to_string(max_age_seconds));
    out.append("; HttpOnly; SameSite=Lax");
    if (secure) out.append("; Secure");
    out.append("\r\n");
    return out;
}

}  // namespace lb

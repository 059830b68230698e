#include "lb/http/http_grammar.h"

#include <arpa/inet.h>

#include <string>

namespace lb {

namespace {

bool is_alpha_digit(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// unreserved / sub-delims (RFC 3986 section 2)
bool is_reg_name_char(char c) {
    if (is_alpha_digit(c)) return true;
    switch (c) {
        case '-': case '.': case '_': case '~':
        case '!': case '$': case '&': case '\'': case '(': case ')':
        case '*': case '+': case ',': case ';': case '=':
            return true;
        default:
            return false;
    }
}

bool is_reg_name(std::string_view s) {
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%') {
            if (i + 2 >= s.size() || !is_hex(s[i + 1]) || !is_hex(s[i + 2])) return false;
            i += 2;
            continue;
        }
        if (!is_reg_name_char(s[i])) return false;
    }
    return true;
}

bool is_ipv6_literal(std::string_view s) {
    if (s.empty() || s.size() > 45) return false;
    std::string text(s);
    unsigned char buf[16];
    return inet_pton(AF_INET6, text.c_str(), buf) == 1;
}

bool is_port(std::string_view s) {
    if (s.size() > 5) return false;
    unsigned value = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    return value <= 65535;
}

}  // namespace

bool is_tchar(char c) {
    if (is_alpha_digit(c)) return true;
    switch (c) {
        case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
        case '-': case '.': case '^': case '_': case '`': case '|': case '~':
            return true;
        default:
            return false;
    }
}

bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (!is_tchar(c)) return false;
    return true;
}

bool is_field_value(std::string_view s) {
    for (char c : s)
        if (c == '\0' || c == '\r' || c == '\n') return false;
    return true;
}

bool is_authority(std::string_view s) {
    std::string_view host = s;
    std::string_view port;
    bool has_port = false;
    if (!s.empty() && s.front() == '[') {
        size_t close = s.find(']');
        if (close == std::string_view::npos) return false;
        if (!is_ipv6_literal(s.substr(1, close - 1))) return false;
        std::string_view rest = s.substr(close + 1);
        if (rest.empty()) return true;
        if (rest.front() != ':') return false;
        return is_port(rest.substr(1));
    }
    size_t colon = s.rfind(':');
    if (colon != std::string_view::npos) {
        host = s.substr(0, colon);
        port = s.substr(colon + 1);
        has_port = true;
    }
    if (has_port && !is_port(port)) return false;
    return is_reg_name(host);
}

}  // namespace lb

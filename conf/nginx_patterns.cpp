// Translations between nginx values and lb's (see nginx_patterns.h).
#include "conf/nginx_patterns.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "lb/base/net_address.h"

namespace lb::conf::nginx {

namespace {

constexpr size_t kMaxPatterns = 32;
constexpr size_t kMaxPatternLength = 128;  // lb's own limit (conf/patterns.h)

struct RegexError {
    std::string message;
};

// One place in the regex: the strings it may stand for, in lb's alphabet.
using Piece = std::vector<std::string>;

bool is_class_escape(char c) {
    return std::string_view("dDwWsSbBAzZGnrtfv0123456789pPkKxucehHR").find(c) != std::string_view::npos;
}

std::string literal(char c) {
    if (c == '*' || c == '?')
        throw RegexError{std::string("a literal '") + c + "' cannot be written in an lb path pattern"};
    return std::string(1, c);
}

std::vector<Piece> parse_regex(std::string_view regex, bool& anchored_start, bool& anchored_end);

// The alternatives of a group's body, each a small regex of its own
// (literals, escapes, '.', '?').
Piece parse_alternatives(std::string_view body) {
    if (body.starts_with("?:")) body.remove_prefix(2);
    Piece out;
    size_t start = 0;
    while (true) {
        size_t bar = body.find('|', start);
        std::string_view alternative = body.substr(start, bar == std::string_view::npos ? std::string_view::npos : bar - start);
        bool anchored_start = false, anchored_end = false;
        std::vector<Piece> pieces = parse_regex(alternative, anchored_start, anchored_end);
        if (anchored_start || anchored_end) throw RegexError{"anchors inside a group are not supported"};
        std::vector<std::string> bodies{""};
        for (const Piece& piece : pieces) {
            std::vector<std::string> next;
            for (const auto& b : bodies)
                for (const auto& a : piece) next.push_back(b + a);
            if (next.size() > kMaxPatterns) throw RegexError{"too many alternatives"};
            bodies = std::move(next);
        }
        out.insert(out.end(), bodies.begin(), bodies.end());
        if (bar == std::string_view::npos) break;
        start = bar + 1;
    }
    return out;
}

std::vector<Piece> parse_regex(std::string_view regex, bool& anchored_start, bool& anchored_end) {
    std::vector<Piece> pieces;
    size_t i = 0;
    if (!regex.empty() && regex.front() == '^') {
        anchored_start = true;
        i = 1;
    }
    auto optional_next = [&](Piece& piece) {
        if (i < regex.size() && regex[i] == '?') {
            piece.insert(piece.begin(), "");
            ++i;
        }
        if (i < regex.size() && (regex[i] == '*' || regex[i] == '+' || regex[i] == '{'))
            throw RegexError{std::string("the repeat '") + regex[i] + "' is not supported (only .* and .+)"};
    };
    while (i < regex.size()) {
        char c = regex[i++];
        if (c == '$') {
            if (i != regex.size()) throw RegexError{"'$' is only supported at the end"};
            anchored_end = true;
        } else if (c == '\\') {
            if (i >= regex.size()) throw RegexError{"the regex ends with a backslash"};
            char next = regex[i++];
            if (is_class_escape(next)) throw RegexError{std::string("\\") + next + " is not supported"};
            Piece piece{literal(next)};
            optional_next(piece);
            pieces.push_back(piece);
        } else if (c == '.') {
            if (i < regex.size() && regex[i] == '*') {
                ++i;
                pieces.push_back({"*"});
            } else if (i < regex.size() && regex[i] == '+') {
                ++i;
                pieces.push_back({"?*"});
            } else {
                Piece piece{"?"};
                optional_next(piece);
                pieces.push_back(piece);
            }
        } else if (c == '(') {
            size_t close = regex.find(')', i);
            if (close == std::string_view::npos) throw RegexError{"unbalanced '('"};
            std::string_view body = regex.substr(i, close - i);
            if (body.find('(') != std::string_view::npos) throw RegexError{"nested groups are not supported"};
            i = close + 1;
            Piece piece = parse_alternatives(body);
            optional_next(piece);
            pieces.push_back(piece);
        } else if (std::string_view("[]{}*+?|)").find(c) != std::string_view::npos) {
            throw RegexError{std::string("'") + c + "' is not supported"};
        } else {
            Piece piece{std::string(1, c)};
            optional_next(piece);
            pieces.push_back(piece);
        }
    }
    return pieces;
}

std::string collapse_stars(const std::string& text) {
    std::string out;
    for (char c : text)
        if (!(c == '*' && !out.empty() && out.back() == '*')) out.push_back(c);
    return out;
}

// The same set of paths as `pattern`, as patterns that start with '/'
// (every path does, and lb's path patterns must).
std::vector<std::string> slash_anchored(const std::string& pattern) {
    if (pattern.empty()) return {};
    if (pattern.front() == '/') return {pattern};
    if (pattern.front() == '?') return {"/" + pattern.substr(1)};
    if (pattern.front() != '*') return {};  // a path never starts with another character
    std::string rest = pattern.substr(1);
    std::vector<std::string> out{collapse_stars("/*" + rest)};
    // The run may also be empty: the rest then starts the path.
    if (!rest.empty() && (rest.front() == '/' || rest.front() == '?')) out.push_back("/" + rest.substr(1));
    if (rest.empty()) out = {"/*"};
    return out;
}

}  // namespace

RegexTranslation regex_to_wildcards(std::string_view regex, bool caseless) {
    RegexTranslation out;
    try {
        bool anchored_start = false;
        bool anchored_end = false;
        std::vector<Piece> pieces = parse_regex(regex, anchored_start, anchored_end);
        std::vector<std::string> bodies{""};
        for (const Piece& piece : pieces) {
            std::vector<std::string> next;
            for (const auto& body : bodies)
                for (const auto& alternative : piece) next.push_back(body + alternative);
            if (next.size() > kMaxPatterns) throw RegexError{"too many alternatives"};
            bodies = std::move(next);
        }
        std::set<std::string> seen;
        for (const auto& body : bodies) {
            std::string pattern = collapse_stars((anchored_start ? "" : "*") + body + (anchored_end ? "" : "*"));
            for (auto& anchored : slash_anchored(pattern)) {
                if (anchored.size() > kMaxPatternLength) throw RegexError{"the pattern is longer than lb allows"};
                if (seen.insert(anchored).second) out.patterns.push_back(anchored);
            }
            if (caseless && std::any_of(body.begin(), body.end(), [](unsigned char c) { return std::isalpha(c); }))
                out.case_approximated = true;
        }
        if (out.patterns.empty()) throw RegexError{"no path can match it"};
    } catch (const RegexError& e) {
        out.patterns.clear();
        out.error = e.message;
    }
    return out;
}

std::vector<std::string> intersect_prefix(std::string_view prefix, std::string_view pattern) {
    const size_t n = pattern.size();
    auto closure = [&](std::set<size_t> states) {
        std::vector<size_t> work(states.begin(), states.end());
        while (!work.empty()) {
            size_t j = work.back();
            work.pop_back();
            if (j < n && pattern[j] == '*' && states.insert(j + 1).second) work.push_back(j + 1);
        }
        return states;
    };
    std::set<size_t> states = closure({0});
    for (char c : prefix) {
        std::set<size_t> next;
        for (size_t j : states) {
            if (j >= n) continue;
            if (pattern[j] == '*') next.insert(j);
            else if (pattern[j] == '?' || pattern[j] == c) next.insert(j + 1);
        }
        states = closure(std::move(next));
        if (states.empty()) return {};
    }
    std::vector<std::string> out;
    for (size_t j : states) {
        // prefix + "*rest" already covers prefix + "rest".
        if (j > 0 && pattern[j - 1] == '*' && states.count(j - 1)) continue;
        out.push_back(collapse_stars(std::string(prefix) + std::string(pattern.substr(j))));
    }
    return out;
}

bool wildcard_match(std::string_view pattern, std::string_view text) {
    size_t p = 0, t = 0;
    size_t star = std::string_view::npos, resume = 0;
    while (t < text.size()) {
        if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
            ++p;
            ++t;
        } else if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            resume = t;
        } else if (star != std::string_view::npos) {
            p = star + 1;
            t = ++resume;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*') ++p;
    return p == pattern.size();
}

std::optional<int64_t> parse_nginx_duration(std::string_view text) {
    constexpr int64_t kMaxMs = 3650LL * 86'400'000;  // lb's longest duration (conf/units.h)
    if (text.empty()) return std::nullopt;
    int64_t total = 0;
    size_t i = 0;
    while (i < text.size()) {
        if (!std::isdigit(static_cast<unsigned char>(text[i]))) return std::nullopt;
        int64_t number = 0;
        while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
            number = number * 10 + (text[i++] - '0');
            if (number > 1'000'000'000'000) return std::nullopt;
        }
        int64_t unit = 1000;  // a bare number is seconds
        if (i < text.size()) {
            char c = text[i++];
            if (c == 'm' && i < text.size() && text[i] == 's') {
                ++i;
                unit = 1;
            } else if (c == 's') unit = 1000;
            else if (c == 'm') unit = 60'000;
            else if (c == 'h') unit = 3'600'000;
            else if (c == 'd') unit = 86'400'000;
            else if (c == 'w') unit = 7 * 86'400'000LL;
            else if (c == 'M') unit = 30 * 86'400'000LL;
            else if (c == 'y') unit = 365 * 86'400'000LL;
            else return std::nullopt;
        } else if (total != 0) {
            return std::nullopt;  // "1m30" has no unit for its last part
        }
        if (number > kMaxMs / unit) return std::nullopt;
        total += number * unit;
        if (total > kMaxMs) return std::nullopt;
    }
    return total;
}

std::optional<uint64_t> parse_nginx_size(std::string_view text) {
    if (text.empty()) return std::nullopt;
    uint64_t multiplier = 1;
    char last = static_cast<char>(std::tolower(static_cast<unsigned char>(text.back())));
    if (last == 'k' || last == 'm' || last == 'g') {
        multiplier = last == 'k' ? 1024 : last == 'm' ? 1024 * 1024 : 1024ULL * 1024 * 1024;
        text.remove_suffix(1);
    }
    if (text.empty() || text.size() > 12) return std::nullopt;
    uint64_t number = 0;
    for (char c : text) {
        if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
        number = number * 10 + static_cast<uint64_t>(c - '0');
    }
    if (number > UINT64_MAX / multiplier) return std::nullopt;
    return number * multiplier;
}

// "80", "*:80", "127.0.0.1", "[::]:443", "localhost:8080" as lb's address form.
std::optional<std::string> nginx_listen_address(const std::string& text, std::string& why) {
    std::string host = text;
    std::string port = "80";
    if (!text.empty() && text.front() == '[') {
        size_t close = text.find(']');
        if (close == std::string::npos) {
            why = "cannot read the address";
            return std::nullopt;
        }
        host = text.substr(0, close + 1);
        if (close + 1 < text.size()) {
            if (text[close + 1] != ':') {
                why = "cannot read the address";
                return std::nullopt;
            }
            port = text.substr(close + 2);
        }
    } else if (text.find_first_not_of("0123456789") == std::string::npos) {
        host = "0.0.0.0";
        port = text;
    } else if (size_t colon = text.rfind(':'); colon != std::string::npos) {
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
    }
    if (host == "*" || host.empty()) host = "0.0.0.0";
    if (host == "localhost") host = "127.0.0.1";
    auto address = SocketAddress::parse(host + ":" + port);
    if (!address || address->port() == 0) {
        why = "lb listens on IP addresses and ports only";
        return std::nullopt;
    }
    return address->to_string();
}

std::string safe_name(std::string_view text) {
    std::string out;
    for (char c : text) {
        bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
        out.push_back(ok ? c : '-');
    }
    if (out.empty()) out = "unnamed";
    if (out.size() > 64) out.resize(64);
    return out;
}

}  // namespace lb::conf::nginx

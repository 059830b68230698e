// Shared by the two HTTP harnesses (http_request.cpp, http_response.cpp):
// a plain reader that re-parses what lb would send, and the list of header
// fields a proxy removes by design, written out here independently of
// lb/http/http_head.cpp so the harnesses check lb against the RFC and not
// against itself.
#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lb/http/http_parser.h"
#include "tests/fuzz/fuzz_support.h"

namespace lb::fuzz {

inline std::string lower(std::string_view text) {
    std::string out(text);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

inline std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// The tokens of every Connection field, lower case (RFC 9110 section 7.6.1).
inline std::vector<std::string> connection_options(const HttpHead& head) {
    std::vector<std::string> options;
    for (const auto& [name, value] : head.headers) {
        if (lower(name) != "connection") continue;
        std::string_view rest = value;
        while (true) {
            size_t comma = rest.find(',');
            std::string_view token = trim(rest.substr(0, comma));
            if (!token.empty()) options.push_back(lower(token));
            if (comma == std::string_view::npos) break;
            rest.remove_prefix(comma + 1);
        }
    }
    return options;
}

// Hop-by-hop fields (RFC 9110 section 7.6.1) and those the message's
// Connection field names: a proxy does not forward them.
inline bool hop_by_hop(const std::vector<std::string>& options, std::string_view name) {
    static constexpr std::string_view kAlways[] = {
        "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
        "proxy-authenticate", "proxy-authorization",
    };
    std::string lowered = lower(name);
    for (std::string_view always : kAlways)
        if (lowered == always) return true;
    for (const std::string& option : options)
        if (lowered == option) return true;
    return false;
}

using Fields = std::vector<std::pair<std::string, std::string>>;

// `headers` without the fields whose lower-case name `drop` accepts.
template <class Drop>
Fields without(const Fields& headers, Drop drop) {
    Fields out;
    for (const auto& field : headers)
        if (!drop(lower(field.first))) out.push_back(field);
    return out;
}

inline void print_fields(const char* title, const Fields& fields) {
    std::fprintf(stderr, "%s:\n", title);
    for (const auto& [name, value] : fields)
        std::fprintf(stderr, "  [%s]: [%s]\n", name.c_str(), value.c_str());
}

#define FUZZ_CHECK_FIELDS(expected, actual)                       \
    do {                                                          \
        if ((expected) != (actual)) {                             \
            ::lb::fuzz::print_fields("expected", (expected));     \
            ::lb::fuzz::print_fields("actual", (actual));         \
            FUZZ_CHECK((expected) == (actual));                   \
        }                                                         \
    } while (0)

// How fields with this name occur: their values, in order.
inline std::vector<std::string> values_of(const HttpHead& head, std::string_view name) {
    std::vector<std::string> out;
    for (const auto& [key, value] : head.headers)
        if (lower(key) == lower(name)) out.push_back(value);
    return out;
}

// One message as a plain client or target reads it.
struct ReadMessage {
    HttpHead head;
    std::string body;
    bool complete = false;
};

// Re-parses bytes lb would send, with a fresh parser, the way the peer
// would: every message, its body, and where it ended. `skip_body` says
// whether a response head has no body (the request was HEAD, and so on).
class Reader final : public HttpParserSink {
public:
    using SkipBody = bool (*)(const HttpHead& head, const void* context);

    Reader(HttpParser::Kind kind, SkipBody skip_body = nullptr, const void* context = nullptr)
        : parser_(kind, this, 1 << 20), skip_body_(skip_body), context_(context) {}

    // Feeds everything; stops at an upgrade or an error. Returns the last status.
    HttpParser::Status read(std::string_view data) {
        while (true) {
            HttpParser::Outcome outcome = parser_.feed(data);
            if (outcome.status != HttpParser::Status::paused) {
                if (outcome.status == HttpParser::Status::upgraded) rest_ = std::string(data.substr(outcome.consumed));
                return status_ = outcome.status;
            }
            data.remove_prefix(outcome.consumed);
            parser_.reset();  // the next message starts a fresh parse, as lb does
            if (data.empty()) return status_ = HttpParser::Status::ok;
        }
    }
    // The connection closed: completes a message delimited by the close.
    HttpParser::Status finish() { return status_ = parser_.finish().status; }

    std::vector<ReadMessage> messages;
    HttpParser::Status status() const { return status_; }
    const std::string& rest() const { return rest_; }
    const char* error_reason() const { return parser_.error_reason(); }

private:
    int on_http_head(HttpHead& head) override {
        messages.push_back(ReadMessage{head, {}, false});
        return skip_body_ && skip_body_(head, context_) ? kSkipBody : kContinue;
    }
    int on_http_body(std::string_view data) override {
        messages.back().body.append(data);
        return kContinue;
    }
    int on_http_message_complete() override {
        messages.back().complete = true;
        // An upgrade: llhttp says so next, and what follows is not HTTP.
        return messages.back().head.upgrade ? kContinue : kPause;
    }

    HttpParser parser_;
    SkipBody skip_body_;
    const void* context_;
    HttpParser::Status status_ = HttpParser::Status::ok;
    std::string rest_;
};

// The chunk lb writes for each piece of a chunked body (as
// listeners/http_session.cpp does).
inline void append_chunk(std::string& out, std::string_view data) {
    char size_line[24];
    int n = std::snprintf(size_line, sizeof(size_line), "%zx\r\n", data.size());
    out.append(size_line, static_cast<size_t>(n));
    out.append(data);
    out.append("\r\n");
}

}  // namespace lb::fuzz

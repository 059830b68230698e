#include "lb/routing/request_identity.h"

#include <sys/random.h>

#include <algorithm>
#include <chrono>

#include "lb/base/ascii.h"

namespace lb {

namespace {

constexpr char kHex[] = "0123456789abcdef";

// splitmix64's finalizer: a bijection of 64-bit values.
uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

struct IdGenerator {
    uint64_t key_high = 0;
    uint64_t key_low = 0;
    uint64_t counter = 0;

    IdGenerator() {
        uint64_t seed[3] = {};
        if (getrandom(seed, sizeof(seed), 0) != static_cast<ssize_t>(sizeof(seed))) {
            // No entropy source: distinct enough per thread and start.
            auto now = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
            seed[0] = mix(now ^ reinterpret_cast<uintptr_t>(this));
            seed[1] = mix(seed[0] + 0x9e3779b97f4a7c15ULL);
            seed[2] = mix(seed[1] + 0x9e3779b97f4a7c15ULL);
        }
        key_high = seed[0];
        key_low = seed[1];
        counter = seed[2];
    }
};

void put_hex(char* out, uint64_t bits, int digits) {
    for (int i = digits - 1; i >= 0; --i) {
        out[i] = kHex[bits & 0xf];
        bits >>= 4;
    }
}

bool lower_hex(std::string_view s) {
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

bool all_zero(std::string_view s) { return s.find_first_not_of('0') == std::string_view::npos; }

int hex_value(char c) { return c <= '9' ? c - '0' : c - 'a' + 10; }

}  // namespace

Id128 next_id128() {
    thread_local IdGenerator generator;
    uint64_t n = ++generator.counter;
    // Each half is a bijection of the counter, so a thread never repeats
    // itself; threads differ by their keys.
    return {mix(n ^ generator.key_high) ^ generator.key_low, mix(n + generator.key_low)};
}

std::string make_request_id() {
    Id128 id = next_id128();
    std::string out(32, '0');
    put_hex(out.data(), id.high, 16);
    put_hex(out.data() + 16, id.low, 16);
    return out;
}

bool valid_request_id(std::string_view id) {
    if (id.empty() || id.size() > kMaxRequestIdLength) return false;
    for (char c : id) {
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_' ||
                  c == '.' || c == ':' || c == '+' || c == '/' || c == '=' || c == '@';
        if (!ok) return false;
    }
    return true;
}

std::string TraceParent::format() const {
    std::string out;
    out.reserve(55);
    out.append("00-");
    out.append(trace_id_view());
    out.push_back('-');
    out.append(parent_id_view());
    out.push_back('-');
    out.push_back(kHex[flags >> 4]);
    out.push_back(kHex[flags & 0xf]);
    return out;
}

std::optional<TraceParent> parse_traceparent(std::string_view value) {
    // version "-" trace-id "-" parent-id "-" flags: 2 + 1 + 32 + 1 + 16 + 1 + 2
    constexpr size_t kLength = 55;
    if (value.size() < kLength) return std::nullopt;
    std::string_view version = value.substr(0, 2);
    if (!lower_hex(version) || version == "ff") return std::nullopt;
    if (version == "00" ? value.size() != kLength : value.size() > kLength && value[kLength] != '-')
        return std::nullopt;
    if (value[2] != '-' || value[35] != '-' || value[52] != '-') return std::nullopt;
    std::string_view trace_id = value.substr(3, 32);
    std::string_view parent_id = value.substr(36, 16);
    std::string_view flags = value.substr(53, 2);
    if (!lower_hex(trace_id) || !lower_hex(parent_id) || !lower_hex(flags)) return std::nullopt;
    if (all_zero(trace_id) || all_zero(parent_id)) return std::nullopt;
    TraceParent parsed;
    trace_id.copy(parsed.trace_id.data(), 32);
    parent_id.copy(parsed.parent_id.data(), 16);
    parsed.flags = static_cast<uint8_t>(hex_value(flags[0]) * 16 + hex_value(flags[1]));
    return parsed;
}

std::array<char, 16> make_span_id() {
    std::array<char, 16> span{};
    uint64_t bits = next_id128().low;
    if (bits == 0) bits = 1;  // all zero is invalid
    put_hex(span.data(), bits, 16);
    return span;
}

TraceParent start_trace(uint8_t flags) {
    TraceParent trace;
    Id128 id = next_id128();
    if (id.high == 0 && id.low == 0) id.low = 1;
    put_hex(trace.trace_id.data(), id.high, 16);
    put_hex(trace.trace_id.data() + 16, id.low, 16);
    trace.parent_id = make_span_id();
    trace.flags = flags;
    return trace;
}

void set_header(HttpHead& head, std::string_view name, std::string_view value) {
    auto same = [&](const auto& field) { return iequals(field.first, name); };
    auto first = std::find_if(head.headers.begin(), head.headers.end(), same);
    if (first == head.headers.end()) {
        head.headers.emplace_back(std::string(name), std::string(value));
        return;
    }
    first->second.assign(value);
    head.headers.erase(std::remove_if(first + 1, head.headers.end(), same), head.headers.end());
}

namespace {

// The one value of header `name`, nullopt when absent; `many` when repeated.
// Without the whitespace around it, which is not part of a field's value
// (RFC 9110 5.5) and which the HTTP/1.1 parser leaves at its end.
std::optional<std::string_view> only_value(const HttpHead& head, std::string_view name, bool& many) {
    std::optional<std::string_view> found;
    many = false;
    for (const auto& [field, value] : head.headers) {
        if (!iequals(field, name)) continue;
        if (found) many = true;
        found = trim_spaces(value);
    }
    return found;
}

void remove_header(HttpHead& head, std::string_view name) {
    std::erase_if(head.headers, [&](const auto& field) { return iequals(field.first, name); });
}

}  // namespace

RequestIdentity identify_request(HttpHead& head, const conf::RequestId& config, bool id_trusted,
                                 conf::TraceContext trace_mode) {
    RequestIdentity identity;
    if (config.enabled) {
        bool many = false;
        auto incoming = only_value(head, config.header, many);
        if (id_trusted && incoming && !many && valid_request_id(*incoming)) identity.request_id = *incoming;
        else identity.request_id = make_request_id();
        set_header(head, config.header, identity.request_id);
    } else {
        identity.request_id = make_request_id();
    }

    bool many = false;
    auto incoming = only_value(head, "traceparent", many);
    std::optional<TraceParent> parent;
    if (incoming && !many) parent = parse_traceparent(*incoming);
    if (!parent) remove_header(head, "tracestate");  // it belongs to the traceparent it came with
    if (trace_mode == conf::TraceContext::pass) {
        if (parent) identity.trace = parent;  // forwarded as it came (a later version too)
        else if (incoming) remove_header(head, "traceparent");
        return identity;
    }
    // start: lb is a participant; its span is the target's parent.
    if (parent) {
        parent->parent_id = make_span_id();
        identity.trace = parent;
    } else {
        identity.trace = start_trace(0x01);
    }
    identity.lb_span = true;
    set_header(head, "traceparent", identity.trace->format());
    return identity;
}

}  // namespace lb

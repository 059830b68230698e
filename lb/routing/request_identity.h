// Who a request is: its request id (README "Request ids and trace
// context") and its W3C Trace Context (https://www.w3.org/TR/trace-context/,
// `traceparent` version 00). Pure functions over strings, and the
// per-thread generator of ids.
//
// Ids are not secrets: the generator makes them unique (a counter per
// thread, mixed through two bijections keyed at random when the thread
// first asks) and unpredictable enough to not be guessed by accident, with
// one getrandom() per thread and none per request.
//
// Threading: pure functions; the generator is thread-local.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "conf/config.h"
#include "lb/http/http_head.h"

namespace lb {

// 128 random-looking bits, unique per thread for 2^64 calls.
struct Id128 {
    uint64_t high = 0;
    uint64_t low = 0;
};
Id128 next_id128();

// A new request id: 32 lower-case hex digits (nginx's $request_id form).
std::string make_request_id();

// An id a client or proxy sent is kept only if it is 1..128 characters of
// letters, digits and - _ . : + / = @ (UUIDs, nginx's hex, base64, ULIDs):
// nothing that could split a log line, a header or a JSON string.
constexpr size_t kMaxRequestIdLength = 128;
bool valid_request_id(std::string_view id);

// A traceparent, version 00 as lb writes it.
struct TraceParent {
    std::array<char, 32> trace_id{};   // lower-case hex, not all zero
    std::array<char, 16> parent_id{};  // lower-case hex, not all zero
    uint8_t flags = 0;

    std::string_view trace_id_view() const { return {trace_id.data(), trace_id.size()}; }
    std::string_view parent_id_view() const { return {parent_id.data(), parent_id.size()}; }
    // "00-<trace-id>-<parent-id>-<flags>"
    std::string format() const;
};

// The header's value as the spec reads it: version 00 is exactly
// 00-<32 hex>-<16 hex>-<2 hex>, lower case, ids not all zero; version ff
// is invalid; a later version is read by its first four fields (it may be
// longer, with '-' after them). nullopt: invalid (to be dropped, or
// replaced by a new trace).
std::optional<TraceParent> parse_traceparent(std::string_view value);

// A new span id (lb's parent-id in what it forwards).
std::array<char, 16> make_span_id();
// A new trace: random trace-id and parent-id, `flags` as given.
TraceParent start_trace(uint8_t flags);

// ---------------------------------------------------------------- per request

// What a request is known by, once identify_request() has read its head.
struct RequestIdentity {
    std::string request_id;
    std::optional<TraceParent> trace;  // the traceparent forwarded, if any
    bool lb_span = false;              // trace's parent-id is lb's own span id
};

// Reads the request id and the trace context from `head` and rewrites them
// there as the target is to see them:
// - the id header (`config.header`): kept when `id_trusted` and there is
//   one valid value, else a new id; every copy the client sent is replaced
//   by the one value. With `config.enabled` false the header is the
//   client's business and left alone (the id is new, for the log).
// - traceparent: exactly one valid header is a trace. `pass` keeps it as it
//   is; `start` forwards the same trace-id and flags with a new parent-id
//   (lb's span), or starts a trace (sampled) when there is none or it is
//   invalid. An invalid one is never forwarded; tracestate goes on only
//   with the incoming traceparent it belongs to.
RequestIdentity identify_request(HttpHead& head, const conf::RequestId& config, bool id_trusted,
                                 conf::TraceContext trace_mode);

// Replaces every header `name` of `head` by one with `value`.
void set_header(HttpHead& head, std::string_view name, std::string_view value);

}  // namespace lb

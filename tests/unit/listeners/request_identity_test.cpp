// Request ids and W3C traceparent: generation, validation, parsing.
#include "lb/routing/request_identity.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "lb/base/ascii.h"

namespace lb {
namespace {

bool lower_hex(std::string_view s) {
    return s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

// ---------------------------------------------------------------- request ids

TEST(RequestId, ThirtyTwoLowerHexDigitsEachTimeNew) {
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) {
        std::string id = make_request_id();
        ASSERT_EQ(id.size(), 32u);
        ASSERT_TRUE(lower_hex(id)) << id;
        seen.insert(id);
    }
    EXPECT_EQ(seen.size(), 1000u);
    // Both halves vary: not one random word padded out, nor a visible counter.
    std::set<std::string> firsts, seconds;
    for (const auto& id : seen) {
        firsts.insert(id.substr(0, 16));
        seconds.insert(id.substr(16));
    }
    EXPECT_EQ(firsts.size(), 1000u);
    EXPECT_EQ(seconds.size(), 1000u);
}

TEST(RequestId, ThreadsDoNotRepeatEachOther) {
    std::set<std::string> a, b;
    std::thread t1([&] { for (int i = 0; i < 2000; ++i) a.insert(make_request_id()); });
    std::thread t2([&] { for (int i = 0; i < 2000; ++i) b.insert(make_request_id()); });
    t1.join();
    t2.join();
    ASSERT_EQ(a.size(), 2000u);
    ASSERT_EQ(b.size(), 2000u);
    for (const auto& id : a) EXPECT_FALSE(b.contains(id)) << id;
}

TEST(RequestId, ValidIncomingIds) {
    EXPECT_TRUE(valid_request_id("abc"));
    EXPECT_TRUE(valid_request_id("0f8fad5b-d9cb-469f-a165-70867728950e"));
    EXPECT_TRUE(valid_request_id("01ARZ3NDEKTSV4RRFFQ69G5FAV"));
    EXPECT_TRUE(valid_request_id("dGVzdA==/+_.:@"));
    EXPECT_TRUE(valid_request_id(std::string(kMaxRequestIdLength, 'a')));
}

TEST(RequestId, InvalidIncomingIds) {
    EXPECT_FALSE(valid_request_id(""));
    EXPECT_FALSE(valid_request_id(std::string(kMaxRequestIdLength + 1, 'a')));
    EXPECT_FALSE(valid_request_id("a b"));
    EXPECT_FALSE(valid_request_id("a\"b"));
    EXPECT_FALSE(valid_request_id("a\\b"));
    EXPECT_FALSE(valid_request_id("a,b"));
    EXPECT_FALSE(valid_request_id("a\tb"));
    EXPECT_FALSE(valid_request_id("caf\xc3\xa9"));
    EXPECT_FALSE(valid_request_id(std::string("a\0b", 3)));
}

// ---------------------------------------------------------------- traceparent

constexpr std::string_view kExample = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(TraceParent, ParsesTheSpecExampleAndFormatsItBack) {
    auto parsed = parse_traceparent(kExample);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->trace_id_view(), "4bf92f3577b34da6a3ce929d0e0e4736");
    EXPECT_EQ(parsed->parent_id_view(), "00f067aa0ba902b7");
    EXPECT_EQ(parsed->flags, 1);
    EXPECT_EQ(parsed->format(), kExample);
}

TEST(TraceParent, FlagsAreKeptWhole) {
    auto parsed = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-fe");
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->flags, 0xfe);
    EXPECT_TRUE(parsed->format().ends_with("-fe"));
}

TEST(TraceParent, InvalidValues) {
    for (std::string_view bad : {
             "",
             "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",       // no flags
             "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",   // version 00 has nothing after
             "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-011",
             "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",    // upper case
             "00-00000000000000000000000000000000-00f067aa0ba902b7-01",    // zero trace-id
             "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",    // zero parent-id
             "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",    // version ff
             "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
             "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
             "00-4bf92f3577b34da6a3ce929d0e0e473x-00f067aa0ba902b7-01",
             "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0z",
             " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
         })
        EXPECT_FALSE(parse_traceparent(bad)) << bad;
}

TEST(TraceParent, LaterVersionsAreReadByTheirFirstFields) {
    auto longer = parse_traceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-adds");
    ASSERT_TRUE(longer);
    EXPECT_EQ(longer->trace_id_view(), "4bf92f3577b34da6a3ce929d0e0e4736");
    EXPECT_TRUE(parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
    // ... but a later version must still separate its extra fields by '-'.
    EXPECT_FALSE(parse_traceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x"));
}

TEST(TraceParent, NewTracesAreValidAndDistinct) {
    std::set<std::string> traces, spans;
    for (int i = 0; i < 500; ++i) {
        TraceParent trace = start_trace(1);
        std::string text = trace.format();
        auto reparsed = parse_traceparent(text);
        ASSERT_TRUE(reparsed) << text;
        EXPECT_EQ(reparsed->format(), text);
        EXPECT_TRUE(lower_hex(trace.trace_id_view()));
        EXPECT_TRUE(text.ends_with("-01"));
        traces.insert(std::string(trace.trace_id_view()));
        auto span = make_span_id();
        spans.insert(std::string(span.data(), span.size()));
    }
    EXPECT_EQ(traces.size(), 500u);
    EXPECT_EQ(spans.size(), 500u);
}

// ---------------------------------------------------------------- identify_request

HttpHead head_with(std::vector<std::pair<std::string, std::string>> headers) {
    HttpHead head;
    head.method = "GET";
    head.url = "/";
    head.headers = std::move(headers);
    return head;
}

std::vector<std::string> values(const HttpHead& head, std::string_view name) {
    std::vector<std::string> out;
    for (const auto& [field, value] : head.headers)
        if (iequals(field, name)) out.push_back(value);
    return out;
}

const conf::RequestId kDefaultId;

TEST(IdentifyRequest, UntrustedIdIsReplacedEverywhere) {
    HttpHead head = head_with({{"X-Request-Id", "mine"}, {"x-request-id", "again"}});
    auto identity = identify_request(head, kDefaultId, false, conf::TraceContext::pass);
    EXPECT_TRUE(lower_hex(identity.request_id) && identity.request_id.size() == 32);
    EXPECT_EQ(values(head, "x-request-id"), std::vector<std::string>{identity.request_id});
}

TEST(IdentifyRequest, TrustedValidIdIsKeptRepeatedOrInvalidIsNot) {
    HttpHead kept = head_with({{"X-Request-Id", "abc-123"}});
    EXPECT_EQ(identify_request(kept, kDefaultId, true, conf::TraceContext::pass).request_id, "abc-123");
    EXPECT_EQ(values(kept, "x-request-id"), std::vector<std::string>{"abc-123"});
    HttpHead repeated = head_with({{"X-Request-Id", "a"}, {"X-Request-Id", "b"}});
    EXPECT_EQ(identify_request(repeated, kDefaultId, true, conf::TraceContext::pass).request_id.size(), 32u);
    HttpHead invalid = head_with({{"X-Request-Id", "a b"}});
    auto identity = identify_request(invalid, kDefaultId, true, conf::TraceContext::pass);
    EXPECT_EQ(values(invalid, "x-request-id"), std::vector<std::string>{identity.request_id});
}

TEST(IdentifyRequest, WhitespaceAroundAValueIsNotPartOfIt) {
    // The HTTP/1.1 parser leaves a value's trailing whitespace (RFC 9110's
    // OWS, not the value's) for the reader to drop.
    HttpHead head = head_with({{"X-Request-Id", "abc-123 \t"}, {"traceparent", std::string(kExample) + "  "}});
    auto identity = identify_request(head, kDefaultId, true, conf::TraceContext::pass);
    EXPECT_EQ(identity.request_id, "abc-123");
    ASSERT_TRUE(identity.trace);
    EXPECT_EQ(identity.trace->format(), kExample);
}

TEST(IdentifyRequest, DisabledLeavesTheHeaderAlone) {
    conf::RequestId off;
    off.enabled = false;
    HttpHead head = head_with({{"X-Request-Id", "a b"}});
    auto identity = identify_request(head, off, true, conf::TraceContext::pass);
    EXPECT_EQ(values(head, "x-request-id"), std::vector<std::string>{"a b"});
    EXPECT_EQ(identity.request_id.size(), 32u);
}

TEST(IdentifyRequest, PassKeepsAValidTraceAndDropsAnInvalidOne) {
    HttpHead valid = head_with({{"traceparent", std::string(kExample)}, {"tracestate", "a=1"}});
    auto identity = identify_request(valid, kDefaultId, false, conf::TraceContext::pass);
    ASSERT_TRUE(identity.trace);
    EXPECT_FALSE(identity.lb_span);
    EXPECT_EQ(values(valid, "traceparent"), std::vector<std::string>{std::string(kExample)});
    EXPECT_EQ(values(valid, "tracestate"), std::vector<std::string>{"a=1"});

    HttpHead twice = head_with({{"traceparent", std::string(kExample)}, {"traceparent", std::string(kExample)},
                                {"tracestate", "a=1"}});
    EXPECT_FALSE(identify_request(twice, kDefaultId, false, conf::TraceContext::pass).trace);
    EXPECT_TRUE(values(twice, "traceparent").empty());
    EXPECT_TRUE(values(twice, "tracestate").empty());

    HttpHead orphan = head_with({{"tracestate", "a=1"}});
    identify_request(orphan, kDefaultId, false, conf::TraceContext::pass);
    EXPECT_TRUE(values(orphan, "tracestate").empty());
}

TEST(IdentifyRequest, StartJoinsOrStarts) {
    HttpHead joined = head_with({{"traceparent", std::string(kExample)}, {"tracestate", "a=1"}});
    auto identity = identify_request(joined, kDefaultId, false, conf::TraceContext::start);
    ASSERT_TRUE(identity.trace);
    EXPECT_TRUE(identity.lb_span);
    EXPECT_EQ(identity.trace->trace_id_view(), "4bf92f3577b34da6a3ce929d0e0e4736");
    EXPECT_NE(identity.trace->parent_id_view(), "00f067aa0ba902b7");
    EXPECT_EQ(values(joined, "traceparent"), std::vector<std::string>{identity.trace->format()});
    EXPECT_EQ(values(joined, "tracestate"), std::vector<std::string>{"a=1"});

    HttpHead fresh = head_with({{"traceparent", "junk"}, {"tracestate", "a=1"}});
    identity = identify_request(fresh, kDefaultId, false, conf::TraceContext::start);
    ASSERT_TRUE(identity.trace);
    EXPECT_EQ(identity.trace->flags, 1);
    EXPECT_EQ(values(fresh, "traceparent"), std::vector<std::string>{identity.trace->format()});
    EXPECT_TRUE(values(fresh, "tracestate").empty());
}

}  // namespace
}  // namespace lb

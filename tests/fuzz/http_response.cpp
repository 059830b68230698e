// libFuzzer harness: the response side of an http listener. The input's
// first byte says what the client asked (bit 0: a HEAD request, bit 1: the
// client speaks HTTP/1.0, bit 2: it asked for an upgrade, bit 3: it sent
// Expect: 100-continue); the rest is what the target sends back. Each
// response goes through what HttpSession does before anything reaches the
// client: the HTTP/1 parser (lb/http/http_parser.h), plan_response
// (lb/http/http_validation.h), serialize_client_response
// (lb/http/http_head.h) and the body as lb relays it (re-chunked by lb,
// or passed through under a Content-Length, or until lb closes). Interim
// 1xx responses are relayed (100 only to a client that is waiting for it,
// none to HTTP/1.0 clients); the first final response ends the exchange.
// The target closing at the end of the input completes a response
// delimited by the close.
//
// Asserts, besides ASan/UBSan staying quiet:
//   - what lb would send the client re-parses, with a fresh parser that
//     knows what the client asked (HEAD: no body), to the same interim
//     responses and one final response that ends where lb's bytes end, with:
//       the same status, and reason phrase when the target gave one;
//       the target's fields minus those a proxy removes by design
//       (hop-by-hop, those Connection names; a 101 keeps Upgrade) and those
//       lb writes itself (Content-Length, Transfer-Encoding, Connection),
//       same names, values and order;
//       the framing plan_response chose (its Content-Length, chunked, or
//       close-delimited with Connection: close), and the same body bytes;
//   - a response lb cut short (target error, input ended) does not look
//     complete to the client unless lb would end it by closing;
//   - a 101 re-parses as an upgrade, and lb only relays one the client asked for;
//   - the outcome is the same whether the bytes come in one piece, one byte
//     at a time or in random pieces (for a response that fails mid-body, as
//     much of its body or more may have been relayed when it came in pieces).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lb/http/http_head.h"
#include "lb/http/http_parser.h"
#include "lb/http/http_validation.h"
#include "tests/fuzz/fuzz_support.h"
#include "tests/fuzz/http_support.h"

namespace {

using lb::BodyFraming;
using lb::HttpHead;
using lb::HttpParser;
using lb::HttpParserSink;
using namespace lb::fuzz;

struct Asked {
    bool head_request = false;
    bool client_http10 = false;
    bool upgrade = false;
    bool expect_continue = false;
};

// The final response as lb handled it.
struct Relayed {
    bool seen = false;         // a final (or 101) response head arrived
    HttpHead response;         // as parsed
    lb::ResponsePlan plan;
    bool refused = false;      // 502 instead (plan_response, or a 101 nobody asked for)
    bool upgraded = false;
    bool close_after = false;
    std::string body;          // as the parser delivered it
    bool complete = false;
};

// What HttpSession does with the target's bytes, without the sockets.
class TargetSide final : public HttpParserSink {
public:
    explicit TargetSide(const Asked& asked) : parser_(HttpParser::Kind::response, this, 256 * 1024), asked_(asked) {}

    void feed(std::string_view data) {
        if (stopped_) return;
        HttpParser::Outcome outcome = parser_.feed(data);
        status_ = outcome.status;
        // paused: the response is complete, lb reads no further; upgraded:
        // the rest is tunnel data; errors end the exchange.
        if (outcome.status != HttpParser::Status::ok) stopped_ = true;
    }
    // The target closed (the end of the input).
    void close() {
        if (stopped_ || !final_.seen || final_.complete || final_.refused) return;
        HttpParser::Outcome outcome = parser_.finish();
        status_ = outcome.status;
        stopped_ = true;
    }

    std::string to_client;             // every byte lb writes to the client
    std::vector<int> interim;          // statuses of the interim responses relayed
    Relayed final_;
    HttpParser::Status status() const { return status_; }

private:
    int on_http_head(HttpHead& response) override {
        lb::ResponsePlan plan = lb::plan_response(response, asked_.head_request, asked_.client_http10);
        int status = response.status;
        if (plan.status) {
            if (status >= 200 || status == 101) refuse(response, plan);
            return kError;
        }
        if (status >= 100 && status < 200 && status != 101) {
            informational_ = true;
            if (status == 100) {
                if (asked_.expect_continue && !continue_sent_) {
                    continue_sent_ = true;
                    to_client.append("HTTP/1.1 100 Continue\r\n\r\n");
                    interim.push_back(100);
                }
            } else if (!asked_.client_http10) {
                to_client.append(lb::serialize_client_response(response, BodyFraming::none, std::nullopt, false, false));
                interim.push_back(status);
            }
            return kSkipBody;
        }
        final_.seen = true;
        final_.response = response;
        final_.plan = plan;
        if (status == 101) {
            if (!asked_.upgrade) {
                final_.refused = true;
                return kError;
            }
            final_.upgraded = true;
            to_client.append(lb::serialize_client_response(response, BodyFraming::none, std::nullopt, false, false));
            return kSkipBody;  // the rest is the tunnel's, untouched
        }
        final_.close_after = asked_.client_http10 || plan.framing == BodyFraming::until_close || asked_.upgrade;
        to_client.append(lb::serialize_client_response(response, plan.framing, plan.content_length, final_.close_after,
                                                       asked_.client_http10));
        return plan.framing == BodyFraming::none ? kSkipBody : kContinue;
    }
    int on_http_body(std::string_view data) override {
        final_.body.append(data);
        if (final_.plan.framing == BodyFraming::chunked) append_chunk(to_client, data);
        else to_client.append(data);
        return kContinue;
    }
    int on_http_message_complete() override {
        if (informational_) {
            informational_ = false;
            return kContinue;
        }
        if (final_.upgraded) return kContinue;  // llhttp reports the upgrade next
        final_.complete = true;
        if (final_.plan.framing == BodyFraming::chunked) to_client.append("0\r\n\r\n");
        return kPause;
    }
    void refuse(const HttpHead& response, const lb::ResponsePlan& plan) {
        final_.seen = true;
        final_.response = response;
        final_.plan = plan;
        final_.refused = true;
    }

    HttpParser parser_;
    Asked asked_;
    HttpParser::Status status_ = HttpParser::Status::ok;
    bool stopped_ = false;
    bool informational_ = false;
    bool continue_sent_ = false;
};

// The client knows which responses have no body (RFC 9112 section 6.3).
bool client_skips_body(const HttpHead& head, const void* context) {
    const Asked& asked = *static_cast<const Asked*>(context);
    return asked.head_request || (head.status >= 100 && head.status < 200) || head.status == 204 || head.status == 304;
}

bool lb_framing_field(const std::string& name) {
    return name == "content-length" || name == "transfer-encoding" || name == "connection";
}

void check_relayed(const TargetSide& target, const Asked& asked) {
    const std::string& wire = target.to_client;
    Reader client(HttpParser::Kind::response, client_skips_body, &asked);
    HttpParser::Status status = client.read(wire);
    const Relayed& final_ = target.final_;
    FUZZ_CHECK_SHOW(status != HttpParser::Status::error && status != HttpParser::Status::header_too_large, wire);

    bool relayed = final_.seen && !final_.refused;
    // lb ends a close-delimited body by closing the connection.
    if (relayed && final_.complete && final_.plan.framing == BodyFraming::until_close) status = client.finish();
    FUZZ_CHECK_SHOW(status != HttpParser::Status::error, wire);

    size_t interim = target.interim.size();
    FUZZ_CHECK_SHOW(client.messages.size() == interim + (relayed ? 1 : 0), wire);
    for (size_t i = 0; i < interim; ++i) {
        FUZZ_CHECK(client.messages[i].head.status == target.interim[i]);
        FUZZ_CHECK(client.messages[i].complete);
        FUZZ_CHECK(client.messages[i].body.empty());
    }
    if (!relayed) return;

    const lb::fuzz::ReadMessage& got = client.messages.back();
    const HttpHead& original = final_.response;
    FUZZ_CHECK(got.head.status == original.status);
    if (!original.reason.empty()) FUZZ_CHECK(got.head.reason == original.reason);
    FUZZ_CHECK(got.head.http_major == 1 && got.head.http_minor == 1);

    std::vector<std::string> options = connection_options(original);
    bool switching = original.status == 101;
    Fields expected = without(original.headers, [&](const std::string& name) {
        if (switching && name == "upgrade") return false;
        return hop_by_hop(options, name) || name == "content-length";
    });
    Fields actual = without(got.head.headers, lb_framing_field);
    FUZZ_CHECK_FIELDS(expected, actual);

    if (final_.upgraded) {
        FUZZ_CHECK(asked.upgrade);
        FUZZ_CHECK_SHOW(status == HttpParser::Status::upgraded, wire);
        FUZZ_CHECK(client.rest().empty());
        FUZZ_CHECK(got.head.upgrade);
        return;
    }

    // Framing: what plan_response chose, as lb wrote it.
    const lb::ResponsePlan& plan = final_.plan;
    FUZZ_CHECK(got.head.content_length == plan.content_length);
    FUZZ_CHECK(got.head.chunked == (plan.framing == BodyFraming::chunked));
    if (plan.framing == BodyFraming::until_close) FUZZ_CHECK(!plan.content_length && !got.head.chunked);
    if (final_.close_after) FUZZ_CHECK(!client.messages.back().head.keep_alive);
    FUZZ_CHECK(got.body == final_.body);
    if (plan.framing == BodyFraming::none) FUZZ_CHECK(got.body.empty());

    // Where it ends: with lb's last byte; a cut response stays unfinished
    // unless lb would end it by closing (then it resets the connection).
    if (final_.complete) {
        FUZZ_CHECK_SHOW(got.complete, wire);
    } else if (plan.framing != BodyFraming::until_close) {
        FUZZ_CHECK_SHOW(!got.complete, wire);
    }
}

struct Run {
    std::string head_bytes;   // everything lb wrote before the final response's body
    std::vector<int> interim;
    bool seen, refused, upgraded, complete;
    std::string body;
    HttpParser::Status status;
};

Run summary(const TargetSide& target) {
    const Relayed& f = target.final_;
    Run run{{}, target.interim, f.seen, f.refused, f.upgraded, f.complete, f.body, target.status()};
    size_t head_end = target.to_client.find("\r\n\r\n");
    // Interim responses and the final head: the body's chunking follows the pieces.
    size_t body_start = 0;
    for (size_t i = 0; i <= target.interim.size() && head_end != std::string::npos; ++i) {
        body_start = head_end + 4;
        head_end = target.to_client.find("\r\n\r\n", body_start);
    }
    run.head_bytes = target.to_client.substr(0, body_start);
    return run;
}

Run run(const std::vector<std::string_view>& pieces, const Asked& asked, bool check_output) {
    TargetSide target(asked);
    for (std::string_view piece : pieces) target.feed(piece);
    target.close();
    if (check_output) check_relayed(target, asked);
    return summary(target);
}

void check_same(const Run& a, const Run& b) {
    FUZZ_CHECK(a.head_bytes == b.head_bytes);
    FUZZ_CHECK(a.interim == b.interim);
    FUZZ_CHECK(a.seen == b.seen && a.refused == b.refused && a.upgraded == b.upgraded && a.complete == b.complete);
    // A body that fails (a chunk not followed by CRLF) may have had some of
    // its bytes relayed already when they came in pieces.
    if (a.complete) FUZZ_CHECK(a.body == b.body);
    else FUZZ_CHECK(one_prefixes_other(a.body, b.body));
    FUZZ_CHECK(a.status == b.status);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    Asked asked;
    asked.head_request = data[0] & 1;
    asked.client_http10 = data[0] & 2;
    asked.upgrade = data[0] & 4;
    asked.expect_continue = data[0] & 8;
    std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);

    Run whole = run({input}, asked, true);
    check_same(whole, run(bytewise(input), asked, false));
    check_same(whole, run(split(input, seed_of(input), 64), asked, false));
    return 0;
}

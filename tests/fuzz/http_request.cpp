// libFuzzer harness: the request side of an http listener. The input is what
// a client sends on one connection. Each request goes through what
// HttpSession does before anything reaches a target: the HTTP/1 parser
// (lb/http/http_parser.h), CONNECT refused, check_request
// (lb/http/http_validation.h), then serialize_upstream_request
// (lb/http/http_head.h) and the body as lb relays it (chunked re-framed by
// lb, Content-Length passed through). Pipelined requests are taken one after
// the other; an upgrade request ends the HTTP part of the connection.
//
// Asserts, besides ASan/UBSan staying quiet:
//   - what lb would send upstream for each request re-parses, with a fresh
//     parser, to exactly one request that ends where lb's bytes end (no
//     second request hidden in it) and has:
//       the same method, the request-target lb chose, HTTP/1.1;
//       one Host, the authority lb routed on;
//       the client's fields minus those a proxy removes by design
//       (hop-by-hop, and those Connection names) and those lb writes itself
//       (Host, Content-Length, Transfer-Encoding, X-Forwarded-*), same
//       names, values and order;
//       X-Forwarded-For ending in the client address, Proto and Port set;
//       the same framing (chunked stays chunked, a Content-Length stays the
//       same length, no body stays no body) and the same body bytes;
//       the same upgrade intent;
//     and passes check_request again with the same routing result;
//   - a request lb cut short (bad chunk, input ended) re-parses as a request
//     that has not ended: the target waits for more, it never sees a
//     complete message lb did not get;
//   - the outcome is the same whether the bytes come in one piece, one byte
//     at a time or in random pieces (for a request that fails mid-body, as
//     much of its body or more may have been relayed when it came in pieces).
#include <string>
#include <string_view>
#include <vector>

#include "lb/http/http_head.h"
#include "lb/http/http_parser.h"
#include "lb/http/http_validation.h"
#include "tests/fuzz/fuzz_support.h"
#include "tests/fuzz/http_support.h"

namespace {

using lb::HttpHead;
using lb::HttpParser;
using lb::HttpParserSink;
using namespace lb::fuzz;

constexpr uint64_t kMaxHeaderSize = 2048;  // a listener's max_header_size (small: 431 gets fuzzed too)
constexpr std::string_view kClientIp = "198.51.100.7";
constexpr std::string_view kListenerAddress = "192.0.2.10:80";  // Host for an HTTP/1.0 request without one

// One request as lb handled it.
struct Forwarded {
    HttpHead request;          // as parsed
    lb::CheckedRequest checked;
    int refused = 0;           // the status lb answers instead of forwarding
    std::string authority;     // the Host lb sends
    std::string head;          // serialize_upstream_request
    std::string body_out;      // body bytes as lb writes them upstream
    std::string body;          // the body as the parser delivered it
    bool complete = false;
};

// What HttpSession does with the client's bytes, without the sockets.
class ClientSide final : public HttpParserSink {
public:
    explicit ClientSide(const lb::conf::PathNormalization& normalization)
        : parser_(HttpParser::Kind::request, this, kMaxHeaderSize), normalization_(normalization) {}

    // One piece as it arrives; false once lb stopped reading HTTP.
    bool feed(std::string_view data) {
        if (stopped_) return false;
        while (true) {
            HttpParser::Outcome outcome = parser_.feed(data);
            status_ = outcome.status;
            if (outcome.status == HttpParser::Status::ok) return true;
            if (outcome.status != HttpParser::Status::paused) break;
            // A request is complete: HttpSession answers it, then parses
            // what was pipelined behind it with a fresh parser, unless it
            // was an upgrade.
            if (requests.back().request.upgrade) break;
            data.remove_prefix(outcome.consumed);
            parser_.reset();
            if (data.empty()) return true;
        }
        stopped_ = true;
        return false;
    }

    std::vector<Forwarded> requests;
    HttpParser::Status status() const { return status_; }

private:
    int on_http_head(HttpHead& head) override {
        requests.emplace_back();
        Forwarded& f = requests.back();
        f.request = head;
        if (head.method == "CONNECT") {
            f.refused = 405;
            return kError;
        }
        f.checked = lb::check_request(head, normalization_);
        if (f.checked.status) {
            f.refused = f.checked.status;
            return kError;
        }
        f.authority = f.checked.authority.empty() ? std::string(kListenerAddress) : f.checked.authority;
        lb::ForwardedFor forwarded{kClientIp, "http", 80};
        f.head = lb::serialize_upstream_request(head, f.checked.target, f.authority, forwarded);
        return kContinue;
    }
    int on_http_body(std::string_view data) override {
        Forwarded& f = requests.back();
        f.body.append(data);
        if (f.request.chunked) append_chunk(f.body_out, data);
        else f.body_out.append(data);
        return kContinue;
    }
    int on_http_message_complete() override {
        Forwarded& f = requests.back();
        if (f.request.chunked) f.body_out.append("0\r\n\r\n");
        f.complete = true;
        return kPause;  // the next request waits for this one's answer
    }

    HttpParser parser_;
    lb::conf::PathNormalization normalization_;
    HttpParser::Status status_ = HttpParser::Status::ok;
    bool stopped_ = false;
};

bool forwarded_field_dropped(const std::vector<std::string>& options, const std::string& name) {
    return hop_by_hop(options, name) || name == "host" || name == "content-length" || name == "x-forwarded-for" ||
           name == "x-forwarded-proto" || name == "x-forwarded-port";
}

void check_forwarded(const Forwarded& f, const lb::conf::PathNormalization& normalization) {
    std::string wire = f.head + f.body_out;
    Reader target(HttpParser::Kind::request);
    HttpParser::Status status = target.read(wire);
    FUZZ_CHECK_SHOW(status != HttpParser::Status::error && status != HttpParser::Status::header_too_large, wire);
    FUZZ_CHECK_SHOW(target.messages.size() == 1, wire);
    const lb::fuzz::ReadMessage& got = target.messages.front();
    const HttpHead& original = f.request;

    // Where it ends: exactly at lb's last byte, or not yet if lb cut it.
    FUZZ_CHECK_SHOW(got.complete == f.complete, wire);
    if (status == HttpParser::Status::upgraded) FUZZ_CHECK(target.rest().empty());

    FUZZ_CHECK(got.head.method == original.method);
    FUZZ_CHECK(got.head.url == f.checked.target);
    FUZZ_CHECK(got.head.http_major == 1 && got.head.http_minor == 1);
    FUZZ_CHECK(values_of(got.head, "host") == std::vector<std::string>{f.authority});

    // Fields: the client's, minus what a proxy drops and what lb writes itself.
    std::vector<std::string> options = connection_options(original);
    Fields expected = without(original.headers, [&](const std::string& name) { return forwarded_field_dropped(options, name); });
    bool upgrade = original.upgrade;
    Fields actual = without(got.head.headers, [&](const std::string& name) {
        return name == "host" || name == "content-length" || name == "transfer-encoding" || name == "x-forwarded-for" ||
               name == "x-forwarded-proto" || name == "x-forwarded-port" ||
               (upgrade && (name == "upgrade" || name == "connection"));
    });
    FUZZ_CHECK_FIELDS(expected, actual);
    auto xff = values_of(got.head, "x-forwarded-for");
    FUZZ_CHECK(xff.size() == 1);
    FUZZ_CHECK(xff[0].size() >= kClientIp.size() && xff[0].substr(xff[0].size() - kClientIp.size()) == kClientIp);
    if (values_of(original, "x-forwarded-for").empty()) FUZZ_CHECK(xff[0] == kClientIp);
    FUZZ_CHECK(values_of(got.head, "x-forwarded-proto") == std::vector<std::string>{"http"});
    FUZZ_CHECK(values_of(got.head, "x-forwarded-port") == std::vector<std::string>{"80"});

    // Framing and body.
    FUZZ_CHECK(got.head.chunked == original.chunked);
    FUZZ_CHECK(got.head.content_length == (original.chunked ? std::optional<uint64_t>() : original.content_length));
    FUZZ_CHECK(got.body == f.body);
    FUZZ_CHECK(got.head.upgrade == upgrade);
    if (upgrade) {
        FUZZ_CHECK(values_of(got.head, "upgrade") == std::vector<std::string>{std::string(*original.header("upgrade"))});
    } else {
        FUZZ_CHECK(got.head.keep_alive);
    }

    // lb's own output passes lb's own check, with the same routing result.
    lb::CheckedRequest again = lb::check_request(got.head, normalization);
    FUZZ_CHECK_SHOW(again.status == 0, wire);
    // (An HTTP/1.0 request without a Host was routed on no host; its target
    // gets the listener's address as Host by design.)
    if (!f.checked.authority.empty()) FUZZ_CHECK(again.host == f.checked.host);
    FUZZ_CHECK(again.authority == f.authority);
    FUZZ_CHECK(again.path == f.checked.path);
    FUZZ_CHECK(again.query == f.checked.query);
    FUZZ_CHECK(again.target == f.checked.target);
}

struct Run {
    std::vector<Forwarded> requests;
    HttpParser::Status status;
};

Run run(const std::vector<std::string_view>& pieces, const lb::conf::PathNormalization& normalization) {
    ClientSide client(normalization);
    for (std::string_view piece : pieces)
        if (!client.feed(piece)) break;
    return Run{std::move(client.requests), client.status()};
}

// The chunk sizes lb writes follow the pieces the body arrived in, so the
// bodies are compared decoded.
void check_same(const Run& a, const Run& b) {
    // A head that is both malformed and over the limit may get either
    // refusal: llhttp hands a field over when it ends or when the input
    // does, so in pieces the limit can be seen to pass before the bad byte
    // is reached, in one piece the bad byte first. Either way nothing of it
    // was dispatched; a head that fits never gets 431 (both runs agree then).
    auto refused_head = [](HttpParser::Status s) {
        return s == HttpParser::Status::error || s == HttpParser::Status::header_too_large;
    };
    FUZZ_CHECK(a.status == b.status || (refused_head(a.status) && refused_head(b.status)));
    FUZZ_CHECK(a.requests.size() == b.requests.size());
    for (size_t i = 0; i < a.requests.size(); ++i) {
        const Forwarded& x = a.requests[i];
        const Forwarded& y = b.requests[i];
        FUZZ_CHECK(x.refused == y.refused);
        FUZZ_CHECK(x.head == y.head);
        FUZZ_CHECK(x.complete == y.complete);
        if (x.complete) {
            FUZZ_CHECK(x.body == y.body);
        } else {
            // A body that fails (a chunk not followed by CRLF) may have had
            // some of its bytes relayed already when they came in pieces.
            FUZZ_CHECK(one_prefixes_other(x.body, y.body));
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    uint64_t seed = seed_of(input);
    // Both path_normalization settings get their turn.
    lb::conf::PathNormalization normalization;
    normalization.merge_slashes = (seed & 1) == 0;
    normalization.forward_normalized = (seed & 2) == 0;

    Run whole = run({input}, normalization);
    check_same(whole, run(bytewise(input), normalization));
    check_same(whole, run(split(input, seed >> 2, 64), normalization));

    for (const Forwarded& f : whole.requests) {
        if (f.refused) continue;
        check_forwarded(f, normalization);
    }
    return 0;
}

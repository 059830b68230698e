// libFuzzer harness: the PROXY protocol v1/v2 header reader
// (listeners/proxy_protocol.h) on a connection's first bytes.
//
// Asserts, besides ASan/UBSan staying quiet:
//   - the outcome (status, error, header, header length) is the same whether
//     the bytes arrive in one piece, one byte at a time, or in random pieces;
//   - rest() is exactly the bytes fed after the header;
//   - a v1 header is at most 107 bytes and a v2 one is 16 + its length;
//   - match_signature agrees with the parser about what is not a header;
//   - an accepted PROXY (not LOCAL) header re-encoded by lb, as v1 and as v2,
//     reads back as the same addresses and ports.
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "listeners/proxy_protocol.h"
#include "tests/fuzz/fuzz_support.h"

namespace pp = lb::proxy_protocol;

namespace {

struct Outcome {
    pp::Parser::Status status = pp::Parser::Status::need_more;
    std::string error;
    pp::Header header;
    size_t header_size = 0;
};

bool same_endpoint(const lb::SocketAddress& a, const lb::SocketAddress& b) {
    return a.ip_bytes() == b.ip_bytes() && a.port() == b.port();
}

// Feeds the pieces in order until the parser decides, as a connection does.
Outcome run(const std::vector<std::string_view>& pieces) {
    pp::Parser parser;
    std::string fed;
    for (std::string_view piece : pieces) {
        fed.append(piece);
        if (parser.feed(piece) != pp::Parser::Status::need_more) break;
    }
    Outcome out;
    out.status = parser.status();
    if (out.status == pp::Parser::Status::invalid) {
        FUZZ_CHECK(parser.error() != nullptr && parser.error()[0] != '\0');
        out.error = parser.error();
    }
    if (out.status == pp::Parser::Status::done) {
        out.header = parser.header();
        std::string_view rest = parser.rest();
        FUZZ_CHECK(rest.size() <= fed.size());
        out.header_size = fed.size() - rest.size();
        FUZZ_CHECK(rest == std::string_view(fed).substr(out.header_size));
    }
    return out;
}

void check_same(const Outcome& a, const Outcome& b) {
    FUZZ_CHECK(a.status == b.status);
    FUZZ_CHECK(a.error == b.error);
    FUZZ_CHECK(a.header_size == b.header_size);
    FUZZ_CHECK(a.header.version == b.header.version);
    FUZZ_CHECK(a.header.local == b.header.local);
    FUZZ_CHECK(a.header.source == b.header.source);
    FUZZ_CHECK(a.header.destination == b.header.destination);
}

void check_reencoded(const pp::Header& header, const std::string& encoded, int version) {
    pp::Parser parser;
    FUZZ_CHECK(parser.feed(encoded) == pp::Parser::Status::done);
    FUZZ_CHECK(parser.rest().empty());
    FUZZ_CHECK(parser.header().version == version);
    FUZZ_CHECK(!parser.header().local);
    FUZZ_CHECK(same_endpoint(parser.header().source, header.source));
    FUZZ_CHECK(same_endpoint(parser.header().destination, header.destination));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);

    Outcome whole = run({input});
    check_same(whole, run(lb::fuzz::bytewise(input)));
    check_same(whole, run(lb::fuzz::split(input, lb::fuzz::seed_of(input), 24)));

    pp::Signature signature = pp::match_signature(input);
    if (signature == pp::Signature::no) FUZZ_CHECK(whole.status == pp::Parser::Status::invalid);
    if (whole.status == pp::Parser::Status::need_more) FUZZ_CHECK(signature != pp::Signature::no);

    if (whole.status != pp::Parser::Status::done) return 0;
    FUZZ_CHECK(whole.header.version == 1 || whole.header.version == 2);
    if (whole.header.version == 1) {
        FUZZ_CHECK(whole.header_size <= pp::kMaxV1Size);
        FUZZ_CHECK(input.substr(0, pp::kV1Signature.size()) == pp::kV1Signature);
        FUZZ_CHECK(input.substr(whole.header_size - 2, 2) == "\r\n");
    } else {
        FUZZ_CHECK(input.substr(0, pp::kV2Signature.size()) == pp::kV2Signature);
        size_t length = (size_t(data[14]) << 8) | data[15];
        FUZZ_CHECK(whole.header_size == pp::kV2FixedSize + length);
    }
    if (whole.header.local) return 0;
    const pp::Header& header = whole.header;
    int family = header.source.family();
    FUZZ_CHECK(family == AF_INET || family == AF_INET6);
    FUZZ_CHECK(header.destination.family() == family);
    check_reencoded(header, pp::encode_v1(header.source, header.destination), 1);
    check_reencoded(header, pp::encode_v2(header.source, header.destination), 2);
    return 0;
}

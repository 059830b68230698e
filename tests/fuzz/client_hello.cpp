// libFuzzer harness: the ClientHello reader of tls_passthrough listeners
// (tls/client_hello.h) on a connection's first bytes.
//
// Asserts, besides ASan/UBSan staying quiet:
//   - the outcome (status, error, SNI, ALPN) is the same whether the bytes
//     arrive in one piece, one byte at a time or in random pieces;
//   - buffered() holds every byte fed once the hello is done (they are
//     replayed to the target), a prefix of them otherwise;
//   - a reported SNI is lower case, without a trailing dot, of host-name
//     characters; ALPN names are not empty;
//   - a hello that was read is read the same after re-framing its handshake
//     message into records of another size (1..16 bytes), fed in socket-sized
//     reads with bytes after it, as long as that fits kMaxBufferedBytes;
//     beyond that it is refused as too large.
#include <string>
#include <string_view>
#include <vector>

#include "tests/fuzz/fuzz_support.h"
#include "tls/client_hello.h"

using lb::tls::ClientHelloParser;

namespace {

struct Outcome {
    ClientHelloParser::Status status = ClientHelloParser::Status::need_more;
    std::string error;
    std::string server_name;
    std::vector<std::string> alpn;
};

// Every piece is fed, also after the parser decided (done keeps buffering).
Outcome run(const std::vector<std::string_view>& pieces) {
    ClientHelloParser parser;
    std::string fed;
    for (std::string_view piece : pieces) {
        fed.append(piece);
        parser.feed(piece);
    }
    Outcome out;
    out.status = parser.status();
    const std::string& buffered = parser.buffered();
    switch (out.status) {
        case ClientHelloParser::Status::done:
            FUZZ_CHECK(buffered == fed);
            out.server_name = parser.server_name();
            out.alpn = parser.alpn();
            break;
        case ClientHelloParser::Status::need_more:
            FUZZ_CHECK(buffered == fed);
            FUZZ_CHECK(buffered.size() < ClientHelloParser::kMaxBufferedBytes);
            break;
        case ClientHelloParser::Status::invalid:
            FUZZ_CHECK(buffered.size() <= fed.size());
            FUZZ_CHECK(std::string_view(fed).substr(0, buffered.size()) == buffered);
            FUZZ_CHECK(parser.error() != nullptr && parser.error()[0] != '\0');
            out.error = parser.error();
            break;
    }
    return out;
}

void check_same(const Outcome& a, const Outcome& b) {
    FUZZ_CHECK(a.status == b.status);
    FUZZ_CHECK(a.error == b.error);
    FUZZ_CHECK(a.server_name == b.server_name);
    FUZZ_CHECK(a.alpn == b.alpn);
}

void check_names(const Outcome& outcome) {
    const std::string& name = outcome.server_name;
    FUZZ_CHECK(name.size() <= 255);
    if (!name.empty()) FUZZ_CHECK(name.back() != '.');
    for (char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
        FUZZ_CHECK(ok);
    }
    for (const std::string& protocol : outcome.alpn) FUZZ_CHECK(!protocol.empty() && protocol.size() <= 255);
}

// The handshake message that made the hello (4-byte header + body), taken
// from the input's records independently of the parser.
std::string hello_message(std::string_view input) {
    std::string handshake;
    while (input.size() >= 5) {
        size_t length = size_t(static_cast<uint8_t>(input[3])) << 8 | static_cast<uint8_t>(input[4]);
        if (input.size() < 5 + length) break;
        handshake.append(input.substr(5, length));
        input.remove_prefix(5 + length);
        if (handshake.size() >= 4) {
            size_t hello_length = size_t(static_cast<uint8_t>(handshake[1])) << 16 |
                                  size_t(static_cast<uint8_t>(handshake[2])) << 8 |
                                  static_cast<uint8_t>(handshake[3]);
            if (handshake.size() >= 4 + hello_length) return handshake.substr(0, 4 + hello_length);
        }
    }
    return {};
}

void check_reframed(std::string_view input, const Outcome& whole) {
    std::string message = hello_message(input);
    FUZZ_CHECK(!message.empty());
    uint64_t state = lb::fuzz::seed_of(input);
    size_t fragment = 1 + static_cast<size_t>(lb::fuzz::next_random(state) % 16);
    std::string records;
    for (size_t at = 0; at < message.size(); at += fragment) {
        size_t n = std::min(fragment, message.size() - at);
        records += std::string{22, 3, 1, static_cast<char>(n >> 8), static_cast<char>(n & 0xff)};
        records.append(message, at, n);
    }
    size_t hello_bytes = records.size();
    // What the client sends next (its early data, say) travels in the same reads.
    records.append(std::string(1 + lb::fuzz::next_random(state) % 2048, '\x17'));
    Outcome reframed = run(lb::fuzz::split(records, lb::fuzz::next_random(state), 16384));
    if (hello_bytes <= ClientHelloParser::kMaxBufferedBytes) {
        check_same(whole, reframed);
    } else {
        FUZZ_CHECK(reframed.status == ClientHelloParser::Status::invalid);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);

    Outcome whole = run({input});
    check_same(whole, run(lb::fuzz::bytewise(input)));
    check_same(whole, run(lb::fuzz::split(input, lb::fuzz::seed_of(input), 64)));
    if (whole.status != ClientHelloParser::Status::done) return 0;
    check_names(whole);
    check_reframed(input, whole);
    return 0;
}

#include "tls/client_hello.h"

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <string>

#include "tls/openssl_error.h"

namespace lb::tls {
namespace {

using Status = ClientHelloParser::Status;

// The first flight of a real OpenSSL client: one record holding the ClientHello.
std::string real_client_hello(const char* server_name, bool alpn = true) {
    SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
    SslPtr ssl(SSL_new(ctx.get()));
    BIO* in = BIO_new(BIO_s_mem());
    BIO* out = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl.get(), in, out);
    SSL_set_connect_state(ssl.get());
    if (server_name) SSL_set_tlsext_host_name(ssl.get(), server_name);
    if (alpn) {
        static const unsigned char protos[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
        SSL_set_alpn_protos(ssl.get(), protos, sizeof(protos));
    }
    SSL_do_handshake(ssl.get());
    char* data = nullptr;
    long length = BIO_get_mem_data(out, &data);
    return std::string(data, static_cast<size_t>(length));
}

// The same handshake message re-framed into records of at most `fragment` bytes.
std::string refragment(const std::string& single_record, size_t fragment) {
    std::string message = single_record.substr(5);
    std::string out;
    for (size_t i = 0; i < message.size(); i += fragment) {
        size_t n = std::min(fragment, message.size() - i);
        out += std::string{22, 3, 1, static_cast<char>(n >> 8), static_cast<char>(n & 0xff)};
        out += message.substr(i, n);
    }
    return out;
}

TEST(ClientHello, RealHelloInOnePiece) {
    std::string hello = real_client_hello("api.example.com");
    ClientHelloParser parser;
    EXPECT_EQ(parser.feed(hello), Status::done);
    EXPECT_EQ(parser.server_name(), "api.example.com");
    EXPECT_EQ(parser.alpn(), (std::vector<std::string>{"h2", "http/1.1"}));
    EXPECT_EQ(parser.buffered(), hello);
}

TEST(ClientHello, OneByteAtATime) {
    std::string hello = real_client_hello("a.example.com");
    ClientHelloParser parser;
    for (size_t i = 0; i + 1 < hello.size(); ++i)
        ASSERT_EQ(parser.feed(hello.substr(i, 1)), Status::need_more) << "at byte " << i;
    EXPECT_EQ(parser.feed(hello.substr(hello.size() - 1)), Status::done);
    EXPECT_EQ(parser.server_name(), "a.example.com");
    EXPECT_EQ(parser.buffered(), hello);
}

TEST(ClientHello, SplitAcrossManyRecords) {
    std::string hello = refragment(real_client_hello("multi.example.com"), 7);
    ClientHelloParser parser;
    // And across odd-sized TCP segments on top.
    Status status = Status::need_more;
    for (size_t i = 0; i < hello.size(); i += 13) status = parser.feed(hello.substr(i, 13));
    EXPECT_EQ(status, Status::done);
    EXPECT_EQ(parser.server_name(), "multi.example.com");
    EXPECT_EQ(parser.buffered(), hello);
}

TEST(ClientHello, NoServerName) {
    ClientHelloParser parser;
    EXPECT_EQ(parser.feed(real_client_hello(nullptr, false)), Status::done);
    EXPECT_EQ(parser.server_name(), "");
    EXPECT_TRUE(parser.alpn().empty());
}

TEST(ClientHello, NameIsLowerCasedWithoutTrailingDot) {
    ClientHelloParser parser;
    EXPECT_EQ(parser.feed(real_client_hello("WWW.Example.COM.")), Status::done);
    EXPECT_EQ(parser.server_name(), "www.example.com");
}

// A DNS name has no empty labels: "a..b", ".a" and "a.." (which would
// become "a." once the one permitted trailing dot is dropped) are not
// names any certificate or rule can mean.
TEST(ClientHello, NamesWithEmptyLabelsAreInvalid) {
    for (const char* name : {"www.example.com..", "www..example.com", ".example.com", ".", ".."}) {
        ClientHelloParser parser;
        EXPECT_EQ(parser.feed(real_client_hello(name)), Status::invalid) << name;
        EXPECT_STRNE(parser.error(), "") << name;
    }
}

TEST(ClientHello, BytesAfterTheHelloAreKept) {
    std::string hello = real_client_hello("a.example.com");
    ClientHelloParser parser;
    EXPECT_EQ(parser.feed(hello + "early"), Status::done);
    EXPECT_EQ(parser.feed("more"), Status::done);
    EXPECT_EQ(parser.buffered(), hello + "earlymore");
}

TEST(ClientHello, HttpIsGarbageAtTheFirstByte) {
    ClientHelloParser parser;
    EXPECT_EQ(parser.feed("G"), Status::invalid);
    EXPECT_STRNE(parser.error(), "");
}

TEST(ClientHello, GarbageShapes) {
    std::string hello = real_client_hello("a.example.com");
    auto judge = [](std::string bytes) {
        ClientHelloParser parser;
        return parser.feed(bytes);
    };
    EXPECT_EQ(judge(std::string("\x80\x2e\x01\x03\x01", 5)), Status::invalid);  // SSLv2 hello
    EXPECT_EQ(judge(std::string("\x17\x03\x03\x00\x05hello", 10)), Status::invalid);  // application data
    EXPECT_EQ(judge(std::string("\x16\x04", 2)), Status::invalid);  // not version 3.x
    EXPECT_EQ(judge(std::string("\x16\x03\x01\x00\x00", 5)), Status::invalid);  // empty record
    EXPECT_EQ(judge(std::string("\x16\x03\x01\x40\x01", 5)), Status::invalid);  // record over 2^14
    std::string server_hello = hello;
    server_hello[5] = 2;
    EXPECT_EQ(judge(server_hello), Status::invalid);
    std::string huge = hello;
    huge[6] = 0x01;  // hello length 64 KiB+
    EXPECT_EQ(judge(huge), Status::invalid);
}

TEST(ClientHello, TruncatedHelloWaitsForMore) {
    std::string hello = real_client_hello("a.example.com");
    ClientHelloParser parser;
    EXPECT_EQ(parser.feed(hello.substr(0, hello.size() - 1)), Status::need_more);
    EXPECT_EQ(parser.feed(hello.substr(hello.size() - 1)), Status::done);
}

TEST(ClientHello, InconsistentInnerLengthsAreInvalid) {
    std::string hello = real_client_hello("a.example.com");
    // Shrink the handshake message length by one: the extensions block then overruns.
    std::string broken = hello;
    size_t length = (size_t(uint8_t(broken[6])) << 16) | (size_t(uint8_t(broken[7])) << 8) | uint8_t(broken[8]);
    length -= 1;
    broken[7] = static_cast<char>(length >> 8);
    broken[8] = static_cast<char>(length & 0xff);
    ClientHelloParser parser;
    EXPECT_EQ(parser.feed(broken), Status::invalid);
}

// A hello that ends inside the read that crosses kMaxBufferedBytes: the
// bytes after it in that read are the connection's and must all be kept
// (they were cut at the bound and never reached the target).
TEST(ClientHello, BytesAfterAHelloEndingNearTheBoundAreKept) {
    std::string body = std::string("\x03\x03", 2) + std::string(32, '\0') + std::string("\x00\x00\x02\x13\x01\x01\x00", 7);
    const size_t padding = 5300;  // padding extension (21): 1-byte records put the hello's end near 32 KiB
    std::string extension = std::string("\x00\x15", 2) + char(padding >> 8) + char(padding & 0xff) + std::string(padding, '\0');
    body += std::string{char(extension.size() >> 8), char(extension.size() & 0xff)} + extension;
    std::string message = std::string("\x01\x00", 2) + char(body.size() >> 8) + char(body.size() & 0xff) + body;
    std::string single = std::string("\x16\x03\x01", 3) + char(message.size() >> 8) + char(message.size() & 0xff) + message;
    std::string records = refragment(single, 1);
    ASSERT_LT(records.size(), ClientHelloParser::kMaxBufferedBytes);
    std::string after(2000, '\x17');

    ClientHelloParser whole;
    EXPECT_EQ(whole.feed(records + after), Status::done);
    EXPECT_EQ(whole.buffered(), records + after);

    ClientHelloParser in_reads;  // reads of at most 16 KiB, as from the socket
    std::string all = records + after;
    for (size_t at = 0; at < all.size(); at += 16000) in_reads.feed(all.substr(at, 16000));
    EXPECT_EQ(in_reads.status(), Status::done);
    EXPECT_EQ(in_reads.buffered(), all);
}

TEST(ClientHello, EndlessTinyRecordsHitTheBound) {
    // Valid-looking one-byte records that never finish a hello.
    std::string record("\x16\x03\x01\x00\x01\x01", 6);
    std::string start = std::string("\x16\x03\x01\x00\x04\x01\x00\x3f\xff", 9);  // hello of 16383 bytes announced
    ClientHelloParser parser;
    Status status = parser.feed(start);
    for (int i = 0; i < 10000 && status == Status::need_more; ++i) status = parser.feed(record);
    EXPECT_EQ(status, Status::invalid);
    EXPECT_LE(parser.buffered().size(), ClientHelloParser::kMaxBufferedBytes);
}

}  // namespace
}  // namespace lb::tls

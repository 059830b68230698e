#include "lb/targets/sticky_cookie.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <charconv>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>


namespace lb {

std::string base64url_encode(std::string_view data) {
    std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
    out.resize(static_cast<size_t>(n));
    while (!out.empty() && out.back() == '=') out.pop_back();
    for (char& c : out) {
        if (c == '+') c = '-';
        else if (c == '/') c = '_';
    }
    return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
    if (text.size() % 4 == 1) return std::nullopt;
    std::string padded(text);
    for (char& c : padded) {
        if (c == '-') c = '+';
        else if (c == '_') c = '/';
        else if (c == '+' || c == '/' || c == '=') return std::nullopt;  // only the url alphabet is ours
    }
    size_t pad = (4 - padded.size() % 4) % 4;
    padded.append(pad, '=');
    std::string out(padded.size() / 4 * 3, '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(padded.data()), static_cast<int>(padded.size()));
    if (n < 0) return std::nullopt;
    out.resize(static_cast<size_t>(n) - pad);
    // Reject non-canonical text (stray low bits in the last character):
    // otherwise two different cookie strings would carry one signature.
    if (base64url_encode(out) != text) return std::nullopt;
    return out;
}

uint64_t StickyCookieSigner::target_id(std::string_view target_key) const {
    // Prefixed so a target id is never the MAC of a cookie payload.
    std::string digest = mac("target-id|" + std::string(target_key));
    uint64_t id = 0;
    for (int i = 0; i < 8; ++i) id = (id << 8) | static_cast<unsigned char>(digest[static_cast<size_t>(i)]);
    return id;
}

std::string format_sticky_target_id(uint64_t id) {
    char text[17];
    snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(id));
    return std::string(text, 16);
}

std::optional<uint64_t> parse_sticky_target_id(std::string_view text) {
    uint64_t id = 0;
    if (text.size() != 16) return std::nullopt;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id, 16);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return id;
}

int64_t unix_now() { return static_cast<int64_t>(time(nullptr)); }

Result<std::shared_ptr<const StickyCookieSigner>> StickyCookieSigner::from_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error{"cannot read sticky secret file " + path};
    std::stringstream buffer;
    buffer << in.rdbuf();
    std::string key = buffer.str();
    while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
    if (key.size() < 16) return Error{"sticky secret file " + path + " holds fewer than 16 bytes"};
    return std::shared_ptr<const StickyCookieSigner>(std::make_shared<StickyCookieSigner>(std::move(key)));
}

std::shared_ptr<const StickyCookieSigner> StickyCookieSigner::random() {
    std::string key(32, '\0');
    RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), static_cast<int>(key.size()));
    return std::make_shared<StickyCookieSigner>(std::move(key));
}

std::string StickyCookieSigner::mac(std::string_view payload) const {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
         reinterpret_cast<const unsigned char*>(payload.data()), payload.size(), digest, &length);
    return std::string(reinterpret_cast<char*>(digest), length);
}

std::string StickyCookieSigner::encode(std::string_view scope, std::string_view value, int64_t expires_unix) const {
    std::string payload = "1|";
    payload.append(scope);
    payload.push_back('|');
    payload.append(std::to_string(expires_unix));
    payload.push_back('|');
    payload.append(value);
    return base64url_encode(payload) + "." + base64url_encode(mac(payload));
}

std::optional<std::string> StickyCookieSigner::decode(std::string_view cookie, std::string_view scope,
                                                      int64_t now_unix) const {
    size_t dot = cookie.find('.');
    if (dot == std::string_view::npos) return std::nullopt;
    auto payload = base64url_decode(cookie.substr(0, dot));
    auto signature = base64url_decode(cookie.substr(dot + 1));
    if (!payload || !signature) return std::nullopt;
    std::string expected = mac(*payload);
    if (signature->size() != expected.size() || CRYPTO_memcmp(signature->data(), expected.data(), expected.size()) != 0)
        return std::nullopt;
    // "1|scope|expires|value"; scope may not contain '|' (names are validated tokens).
    std::string_view rest = *payload;
    if (rest.substr(0, 2) != "1|") return std::nullopt;
    rest.remove_prefix(2);
    size_t bar = rest.find('|');
    if (bar == std::string_view::npos || rest.substr(0, bar) != scope) return std::nullopt;
    rest.remove_prefix(bar + 1);
    bar = rest.find('|');
    if (bar == std::string_view::npos) return std::nullopt;
    int64_t expires = 0;
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + bar, expires);
    if (ec != std::errc() || end != rest.data() + bar || expires < now_unix) return std::nullopt;
    return std::string(rest.substr(bar + 1));
}

std::string target_sticky_cookie_name(const conf::TargetGroup& group) {
    switch (group.stickiness.type) {
        case conf::Stickiness::Type::lb_cookie:
            return group.stickiness.cookie_name;
        case conf::Stickiness::Type::app_cookie:
            // Named after the application's cookie, so groups following
            // different cookies on one site do not overwrite each other's.
            return std::string("LBAPP-") + group.stickiness.cookie_name;
        case conf::Stickiness::Type::none:
        case conf::Stickiness::Type::source_ip:
            break;
    }
    return {};
}

std::string target_sticky_scope(const conf::TargetGroup& group) {
    // ':' cannot occur in group names, so the two kinds never stand in for
    // each other.
    if (group.stickiness.type == conf::Stickiness::Type::app_cookie) return "app:" + group.name;
    return group.name;
}

}  // namespace lb

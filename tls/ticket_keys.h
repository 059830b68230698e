// TicketKeys: the keys that seal TLS session tickets (RFC 5077; RFC 8446
// section 4.6.1), so a returning client resumes without a full handshake.
//
// One instance per process (RuntimeBuilder owns it; every listener's
// contexts point to it), so a ticket issued by one worker opens on any other
// and survives reloads. Every `rotation` a fresh random key starts sealing
// new tickets; the previous `retained` keys still open tickets (and ask the
// client to take a renewed one) until they age out and are wiped. Keys live
// only in memory: a restart invalidates every ticket, which is the point.
//
// Threading: workers call the OpenSSL callback concurrently. The key ring is
// an immutable object behind an atomic shared_ptr; whichever thread first
// notices that the rotation time has passed builds the next ring and
// publishes it with compare-and-swap. No locks on the handshake path.
#pragma once

#include <openssl/ssl.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

namespace lb::tls {

class TicketKeys {
public:
    struct Key {
        std::array<unsigned char, 16> name;   // sent in the ticket; identifies the key
        std::array<unsigned char, 32> aes;    // AES-256-CBC
        std::array<unsigned char, 32> hmac;   // HMAC-SHA256
        int64_t epoch = 0;                    // rotation period it was made for
    };
    struct Ring {
        std::vector<Key> keys;  // newest first
        int64_t epoch = 0;      // of keys.front()
        ~Ring();                // wipes the key material
    };

    explicit TicketKeys(std::chrono::seconds rotation = std::chrono::hours(1), int retained = 2);

    // The key that seals tickets at `now_s` (seconds on the steady clock).
    std::shared_ptr<const Ring> ring_at(int64_t now_s);
    // A key by ticket name; `renew` is true when it is no longer the newest.
    struct Found {
        std::shared_ptr<const Ring> ring;
        const Key* key = nullptr;
        bool renew = false;
    };
    Found find(const unsigned char name[16], int64_t now_s);

    // The keys in use now, newest first, and taking over another process's
    // (a binary upgrade): tickets it issued stay valid here.
    std::vector<Key> current_keys() const;
    void adopt(std::vector<Key> keys);

    // Makes every connection of `ctx` seal and open tickets with these keys.
    // The caller keeps this object alive as long as `ctx`.
    void install(SSL_CTX* ctx);

    static int64_t steady_seconds();

private:
    static int callback(SSL* ssl, unsigned char name[16], unsigned char* iv, EVP_CIPHER_CTX* cipher,
                        EVP_MAC_CTX* mac, int enc);
    static int ex_index();

    const int64_t rotation_s_;
    const int retained_;
    std::atomic<std::shared_ptr<const Ring>> ring_;
};

}  // namespace lb::tls

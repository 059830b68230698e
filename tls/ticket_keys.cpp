#include "tls/ticket_keys.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstring>

namespace lb::tls {

TicketKeys::Ring::~Ring() {
    for (auto& key : keys) OPENSSL_cleanse(&key, sizeof(key));
}

TicketKeys::TicketKeys(std::chrono::seconds rotation, int retained)
    : rotation_s_(std::max<int64_t>(rotation.count(), 1)), retained_(retained) {}

int64_t TicketKeys::steady_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

std::shared_ptr<const TicketKeys::Ring> TicketKeys::ring_at(int64_t now_s) {
    int64_t epoch = now_s / rotation_s_;
    auto current = ring_.load(std::memory_order_acquire);
    while (!current || current->epoch < epoch) {
        auto next = std::make_shared<Ring>();
        next->epoch = epoch;
        Key fresh;
        fresh.epoch = epoch;
        if (RAND_bytes(fresh.name.data(), sizeof(fresh.name)) != 1 ||
            RAND_bytes(fresh.aes.data(), sizeof(fresh.aes)) != 1 ||
            RAND_bytes(fresh.hmac.data(), sizeof(fresh.hmac)) != 1)
            return nullptr;  // no entropy: no tickets rather than weak ones
        next->keys.push_back(fresh);
        OPENSSL_cleanse(&fresh, sizeof(fresh));
        if (current) {
            for (const auto& key : current->keys)
                if (key.epoch >= epoch - retained_) next->keys.push_back(key);
        }
        std::shared_ptr<const Ring> published = std::move(next);
        // Another worker may have rotated first: then use its ring.
        if (ring_.compare_exchange_strong(current, published, std::memory_order_acq_rel)) return published;
    }
    return current;
}

std::vector<TicketKeys::Key> TicketKeys::current_keys() const {
    auto ring = ring_.load(std::memory_order_acquire);
    return ring ? ring->keys : std::vector<Key>{};
}

void TicketKeys::adopt(std::vector<Key> keys) {
    if (keys.empty()) return;
    auto ring = std::make_shared<Ring>();
    ring->epoch = keys.front().epoch;
    ring->keys = std::move(keys);
    ring_.store(std::move(ring), std::memory_order_release);
}

TicketKeys::Found TicketKeys::find(const unsigned char name[16], int64_t now_s) {
    Found found;
    found.ring = ring_at(now_s);
    if (!found.ring) return found;
    for (const auto& key : found.ring->keys) {
        if (memcmp(key.name.data(), name, key.name.size()) == 0) {
            found.key = &key;
            found.renew = &key != &found.ring->keys.front();
            break;
        }
    }
    return found;
}

int TicketKeys::ex_index() {
    static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

void TicketKeys::install(SSL_CTX* ctx) {
    SSL_CTX_set_ex_data(ctx, ex_index(), this);
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, &TicketKeys::callback);
}

namespace {

// Fetched once: EVP_aes_256_cbc() would make OpenSSL 3 look the cipher up
// again on every ticket.
const EVP_CIPHER* ticket_cipher() {
    static EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "AES-256-CBC", nullptr);
    return cipher;
}

bool set_mac_key(EVP_MAC_CTX* mac, const std::array<unsigned char, 32>& key) {
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, const_cast<unsigned char*>(key.data()), key.size()),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    return EVP_MAC_CTX_set_params(mac, params) == 1;
}

}  // namespace

int TicketKeys::callback(SSL* ssl, unsigned char name[16], unsigned char* iv, EVP_CIPHER_CTX* cipher,
                         EVP_MAC_CTX* mac, int enc) {
    auto* keys = static_cast<TicketKeys*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ex_index()));
    if (!keys) return 0;
    int64_t now = steady_seconds();
    if (enc) {
        auto ring = keys->ring_at(now);
        if (!ring) return -1;
        const Key& key = ring->keys.front();
        const EVP_CIPHER* aes = ticket_cipher();
        if (!aes) return -1;
        int iv_length = EVP_CIPHER_get_iv_length(aes);
        if (RAND_bytes(iv, iv_length) != 1) return -1;
        memcpy(name, key.name.data(), key.name.size());
        if (EVP_EncryptInit_ex(cipher, aes, nullptr, key.aes.data(), iv) != 1) return -1;
        if (!set_mac_key(mac, key.hmac)) return -1;
        return 1;
    }
    auto found = keys->find(name, now);
    if (!found.key) return 0;  // unknown or expired key: full handshake
    if (!ticket_cipher() ||
        EVP_DecryptInit_ex(cipher, ticket_cipher(), nullptr, found.key->aes.data(), iv) != 1)
        return -1;
    if (!set_mac_key(mac, found.key->hmac)) return -1;
    // TLS 1.3: always a new ticket after a resumption. Tickets there are for
    // one use (RFC 8446 C.4), and without a NewSessionTicket right after
    // the client's Finished nothing acknowledges that Finished at once: a
    // client with Nagle on (most) then holds its request for the delayed
    // ACK, 40 ms per resumed connection (found by the tls-resumed bench;
    // OpenSSL's own ticket keys, as nginx uses them, renew every time too).
    // TLS 1.2 tickets are renewed once their key is no longer the newest.
    return found.renew || SSL_version(ssl) == TLS1_3_VERSION ? 2 : 1;
}

}  // namespace lb::tls

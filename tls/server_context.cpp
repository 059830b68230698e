#include "tls/server_context.h"

#include <algorithm>
#include <map>

#include "lb/base/log.h"
#include "tls/certificate.h"

namespace lb::tls {

namespace {

// ALPN, in the server's order of preference (wire format: length-prefixed).
// A client offering none of them goes on without ALPN rather than failing
// the handshake; it gets HTTP/1.1.
constexpr unsigned char kAlpnH2Http11[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
constexpr unsigned char kAlpnHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

template <const unsigned char* Ours, size_t Size>
int select_alpn(SSL*, const unsigned char** out, unsigned char* out_length, const unsigned char* in,
                unsigned int in_length, void*) {
    unsigned char* chosen = nullptr;
    // The first of ours the client offers (our order, not the client's).
    if (SSL_select_next_proto(&chosen, out_length, Ours, Size, in, in_length) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
}

// Sessions resume through tickets only: a server-side session cache would be
// a lock shared by every worker.
constexpr unsigned char kSessionContext[] = {'l', 'b'};

}  // namespace

Result<std::shared_ptr<const ServerContext>> ServerContext::create(const conf::ListenerTls& config,
                                                                   std::shared_ptr<TicketKeys> ticket_keys,
                                                                   bool offer_h2) {
    auto context = std::make_shared<ServerContext>();
    context->ticket_keys_ = std::move(ticket_keys);
    context->handshake_timeout_ms_ = config.handshake_timeout.count();
    auto policy = parse_policy(config.policy);
    if (!policy) return Error{"unknown TLS policy '" + config.policy + "'"};
    context->policy_ = *policy;

    std::vector<LoadedCertificate> certificates;
    for (const auto& certificate : config.certificates) {
        auto loaded = load_certificate(certificate);
        if (!loaded) return Error{loaded.error()};
        if (loaded->expired)
            LB_LOG_WARN("%s", certificate.pos.format(certificate.cert + ": certificate has expired (" +
                                                     loaded->subject + ")").c_str());
        certificates.push_back(std::move(*loaded));
    }
    if (certificates.empty()) return Error{"no certificates"};

    // For every name, the certificates that answer it: the first one per key
    // type in config order.
    std::map<std::string, std::vector<size_t>> by_name;
    std::vector<std::string> first_name(certificates.size());
    for (size_t i = 0; i < certificates.size(); ++i) {
        for (const auto& raw : certificates[i].names) {
            std::string name = SniTable::normalize(raw);
            if (name.empty()) continue;
            if (first_name[i].empty()) first_name[i] = name;
            auto& set = by_name[name];
            bool type_taken = std::any_of(set.begin(), set.end(), [&](size_t j) {
                return certificates[j].key_type == certificates[i].key_type;
            });
            if (!type_taken) set.push_back(i);
        }
    }

    std::map<std::vector<size_t>, size_t> slot_of_set;
    auto slot_for = [&](const std::vector<size_t>& set) -> Result<size_t> {
        if (auto it = slot_of_set.find(set); it != slot_of_set.end()) return it->second;
        Slot slot;
        slot.ctx.reset(SSL_CTX_new(TLS_server_method()));
        if (!slot.ctx) return Error{"SSL_CTX_new: " + openssl_error()};
        SSL_CTX* ctx = slot.ctx.get();
        if (auto applied = apply_policy(ctx, context->policy_); !applied) return Error{applied.error()};
        SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                     SSL_OP_IGNORE_UNEXPECTED_EOF);
        // Idle keep-alive connections give their record buffers back.
        SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof(kSessionContext));
        if (offer_h2) SSL_CTX_set_alpn_select_cb(ctx, select_alpn<kAlpnH2Http11, sizeof(kAlpnH2Http11)>, nullptr);
        else SSL_CTX_set_alpn_select_cb(ctx, select_alpn<kAlpnHttp11, sizeof(kAlpnHttp11)>, nullptr);
        SSL_CTX_set_tlsext_servername_callback(ctx, &ServerContext::on_servername);
        SSL_CTX_set_tlsext_servername_arg(ctx, context.get());
        if (context->ticket_keys_) context->ticket_keys_->install(ctx);
        for (size_t index : set) {
            LoadedCertificate& certificate = certificates[index];
            STACK_OF(X509)* chain = sk_X509_new_null();
            for (auto& extra : certificate.chain) sk_X509_push(chain, extra.get());
            int used = SSL_CTX_use_cert_and_key(ctx, certificate.leaf.get(), certificate.key.get(), chain, 1);
            sk_X509_free(chain);  // the context took its own references
            if (used != 1)
                return Error{config.certificates[index].pos.format(config.certificates[index].cert + ": " +
                                                                   openssl_error())};
            slot.subjects.push_back(certificate.subject);
        }
        size_t slot_index = context->slots_.size();
        context->slots_.push_back(std::move(slot));
        slot_of_set.emplace(set, slot_index);
        return slot_index;
    };

    // The default answers connections without (or with an unknown) SNI: the
    // first certificate together with its same-name siblings of other key types.
    std::vector<size_t> default_set{0};
    if (!first_name[0].empty()) default_set = by_name[first_name[0]];
    auto default_slot = slot_for(default_set);
    if (!default_slot) return Error{default_slot.error()};
    context->default_slot_ = *default_slot;
    for (const auto& [name, set] : by_name) {
        auto slot = slot_for(set);
        if (!slot) return Error{slot.error()};
        context->sni_.add(name, *slot);
    }
    return std::shared_ptr<const ServerContext>(std::move(context));
}

SslPtr ServerContext::new_ssl() const {
    SslPtr ssl(SSL_new(slots_[default_slot_].ctx.get()));
    if (ssl) SSL_set_accept_state(ssl.get());
    return ssl;
}

SSL_CTX* ServerContext::context_for(std::string_view server_name) const {
    auto slot = server_name.empty() ? std::nullopt : sni_.find(server_name);
    return slots_[slot.value_or(default_slot_)].ctx.get();
}

std::vector<std::string> ServerContext::subjects(const SSL_CTX* ctx) const {
    for (const auto& slot : slots_)
        if (slot.ctx.get() == ctx) return slot.subjects;
    return {};
}

int ServerContext::on_servername(SSL* ssl, int*, void* arg) {
    const auto* context = static_cast<const ServerContext*>(arg);
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!name) return SSL_TLSEXT_ERR_OK;  // no SNI: the default certificate
    SSL_CTX* wanted = context->context_for(name);
    if (wanted != SSL_get_SSL_CTX(ssl)) SSL_set_SSL_CTX(ssl, wanted);
    return SSL_TLSEXT_ERR_OK;
}

}  // namespace lb::tls

#include "tls/certificate.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

namespace lb::tls {

namespace {

// Keys must not be encrypted: lb starts unattended.
int no_passphrase(char*, int, int, void*) { return -1; }

std::string asn1_to_utf8(const ASN1_STRING* text) {
    unsigned char* out = nullptr;
    int length = ASN1_STRING_to_UTF8(&out, text);
    if (length < 0) return {};
    std::string result(reinterpret_cast<char*>(out), static_cast<size_t>(length));
    OPENSSL_free(out);
    return result;
}

std::vector<std::string> dns_names(X509* leaf) {
    std::vector<std::string> names;
    auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(leaf, NID_subject_alt_name, nullptr, nullptr));
    if (sans) {
        for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
            const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans, i);
            if (name->type == GEN_DNS) names.push_back(asn1_to_utf8(name->d.dNSName));
        }
        GENERAL_NAMES_free(sans);
    }
    if (!names.empty()) return names;
    // RFC 6125: the CN counts only when the certificate has no DNS SAN.
    const X509_NAME* subject = X509_get_subject_name(leaf);
    int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (index >= 0) {
        std::string cn = asn1_to_utf8(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index)));
        if (!cn.empty()) names.push_back(cn);
    }
    return names;
}

std::string one_line_subject(X509* leaf) {
    BioPtr bio(BIO_new(BIO_s_mem()));
    X509_NAME_print_ex(bio.get(), X509_get_subject_name(leaf), 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB);
    char* data = nullptr;
    long length = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<size_t>(length));
}

}  // namespace

const char* key_type_name(int key_type) {
    switch (key_type) {
        case EVP_PKEY_RSA: return "RSA";
        case EVP_PKEY_RSA_PSS: return "RSA-PSS";
        case EVP_PKEY_EC: return "ECDSA";
        case EVP_PKEY_ED25519: return "Ed25519";
        case EVP_PKEY_ED448: return "Ed448";
        default: return "unknown";
    }
}

Result<LoadedCertificate> load_certificate(const conf::Certificate& config) {
    auto fail = [&](const std::string& file, const std::string& message) {
        clear_openssl_errors();
        return Error{config.pos.format(file + ": " + message)};
    };
    LoadedCertificate loaded;

    BioPtr cert_file(BIO_new_file(config.cert.c_str(), "r"));
    if (!cert_file) return fail(config.cert, "cannot open: " + openssl_error());
    loaded.leaf.reset(PEM_read_bio_X509(cert_file.get(), nullptr, nullptr, nullptr));
    if (!loaded.leaf) return fail(config.cert, "no PEM certificate found (" + openssl_error() + ")");
    while (X509* extra = PEM_read_bio_X509(cert_file.get(), nullptr, nullptr, nullptr))
        loaded.chain.emplace_back(extra);
    // The loop ends on "no start line" at end of file; anything else is a broken PEM block.
    unsigned long last = ERR_peek_last_error();
    if (last && !(ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE))
        return fail(config.cert, "bad PEM certificate in the chain (" + openssl_error() + ")");
    clear_openssl_errors();

    BioPtr key_file(BIO_new_file(config.key.c_str(), "r"));
    if (!key_file) return fail(config.key, "cannot open: " + openssl_error());
    loaded.key.reset(PEM_read_bio_PrivateKey(key_file.get(), nullptr, no_passphrase, nullptr));
    if (!loaded.key)
        return fail(config.key, "no usable PEM private key (unencrypted PEM expected; " + openssl_error() + ")");
    if (X509_check_private_key(loaded.leaf.get(), loaded.key.get()) != 1)
        return fail(config.key, "private key does not match certificate " + config.cert);

    loaded.key_type = EVP_PKEY_get_base_id(loaded.key.get());
    loaded.names = dns_names(loaded.leaf.get());
    loaded.subject = one_line_subject(loaded.leaf.get());
    loaded.expired = X509_cmp_current_time(X509_get0_notAfter(loaded.leaf.get())) < 0;
    clear_openssl_errors();
    return loaded;
}

}  // namespace lb::tls

#include "tests/unit/tls/cert_factory.h"

#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "tls/openssl_error.h"

namespace lb::tls::test {

namespace {

// RSA key generation is slow; every test certificate may share one RSA key
// and one EC key per process (names and subjects are what the tests look at).
EVP_PKEY* shared_key(KeyKind kind) {
    static EVP_PKEY* rsa = EVP_RSA_gen(2048);
    static EVP_PKEY* ec = EVP_EC_gen("P-256");
    return kind == KeyKind::rsa ? rsa : ec;
}

EVP_PKEY* other_key(KeyKind kind) {
    static EVP_PKEY* rsa = EVP_RSA_gen(2048);
    static EVP_PKEY* ec = EVP_EC_gen("P-256");
    return kind == KeyKind::rsa ? rsa : ec;
}

void write_pem_key(const std::string& path, EVP_PKEY* key, const char* passphrase = nullptr) {
    BioPtr bio(BIO_new_file(path.c_str(), "w"));
    if (!bio) throw std::runtime_error("cannot write " + path);
    const EVP_CIPHER* cipher = passphrase ? EVP_aes_128_cbc() : nullptr;
    PEM_write_bio_PrivateKey(bio.get(), key, cipher, nullptr, 0, nullptr, const_cast<char*>(passphrase));
}

}  // namespace

CertFactory::CertFactory() {
    char pattern[] = "/tmp/lb-tls-test-XXXXXX";
    if (!mkdtemp(pattern)) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
}

CertFactory::~CertFactory() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
}

std::string CertFactory::write_file(const std::string& file, const std::string& text) {
    std::string path = dir_ + "/" + file;
    std::ofstream(path) << text;
    return path;
}

conf::Certificate CertFactory::make(const std::string& name, KeyKind kind, const std::string& cn,
                                    const std::vector<std::string>& sans, int valid_days) {
    EVP_PKEY* key = shared_key(kind);
    X509Ptr cert(X509_new());
    X509_set_version(cert.get(), 2);
    static long serial = 1;
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), valid_days < 0 ? 2L * valid_days * 86400 : -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), long(valid_days) * 86400);
    X509_set_pubkey(cert.get(), key);
    X509_NAME* subject = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                               0);
    X509_set_issuer_name(cert.get(), subject);
    if (!sans.empty()) {
        std::string value;
        for (const auto& san : sans) value += (value.empty() ? "" : ",") + san;  // "DNS:a,IP:1.2.3.4"
        X509V3_CTX ctx;
        X509V3_set_ctx_nodb(&ctx);
        X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
        X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, value.c_str());
        if (!ext) throw std::runtime_error("bad SAN " + value);
        X509_add_ext(cert.get(), ext, -1);
        X509_EXTENSION_free(ext);
    }
    X509_sign(cert.get(), key, EVP_sha256());

    conf::Certificate out;
    out.cert = dir_ + "/" + name + ".pem";
    out.key = dir_ + "/" + name + ".key";
    out.pos.file = "lb.yaml";
    out.pos.line = 7;
    out.pos.column = 11;
    out.pos.key_path = "listeners[0].tls.certificates[0]";
    BioPtr bio(BIO_new_file(out.cert.c_str(), "w"));
    PEM_write_bio_X509(bio.get(), cert.get());
    write_pem_key(out.key, key);
    return out;
}

conf::Certificate CertFactory::mismatched(const std::string& name, const std::string& other) {
    conf::Certificate out;
    out.cert = dir_ + "/" + name + ".pem";
    out.key = dir_ + "/" + other + ".key";
    out.pos.file = "lb.yaml";
    out.pos.line = 9;
    out.pos.column = 11;
    out.pos.key_path = "listeners[0].tls.certificates[1]";
    // Make sure the other key really differs even if both used the shared key.
    BioPtr bio(BIO_new_file(out.cert.c_str(), "r"));
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    KeyKind kind = EVP_PKEY_get_base_id(X509_get0_pubkey(cert.get())) == EVP_PKEY_RSA ? KeyKind::rsa : KeyKind::ecdsa;
    write_pem_key(out.key, other_key(kind));
    return out;
}

conf::Certificate CertFactory::encrypted_key(const std::string& name) {
    conf::Certificate out;
    out.cert = dir_ + "/" + name + ".pem";
    out.key = dir_ + "/" + name + ".enc.key";
    BioPtr bio(BIO_new_file(out.cert.c_str(), "r"));
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    KeyKind kind = EVP_PKEY_get_base_id(X509_get0_pubkey(cert.get())) == EVP_PKEY_RSA ? KeyKind::rsa : KeyKind::ecdsa;
    write_pem_key(out.key, shared_key(kind), "secret");
    return out;
}

}  // namespace lb::tls::test

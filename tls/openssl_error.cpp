#include "tls/openssl_error.h"

#include <openssl/err.h>

namespace lb::tls {

std::string openssl_error() {
    std::string text;
    while (unsigned long code = ERR_get_error()) {
        char buffer[256];
        ERR_error_string_n(code, buffer, sizeof(buffer));
        // Keep the reason only: "error:0A00018E:SSL routines::ca md too weak" -> "ca md too weak".
        std::string line = buffer;
        auto colon = line.rfind(':');
        if (colon != std::string::npos && colon + 1 < line.size()) line = line.substr(colon + 1);
        if (!text.empty()) text += "; ";
        text += line;
    }
    return text.empty() ? "unknown error" : text;
}

void clear_openssl_errors() { ERR_clear_error(); }

}  // namespace lb::tls

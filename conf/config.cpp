#include "conf/config.h"

namespace lb::conf {

std::string SourcePos::format(const std::string& message) const {
    // Parts that are unknown are left out rather than printed as "0" or "".
    std::string out = file;
    if (line > 0) {
        out += ":" + std::to_string(line);
        if (column > 0) out += ":" + std::to_string(column);
    }
    if (!out.empty()) out += ": ";
    if (!key_path.empty()) out += key_path + ": ";
    return out + message;
}

const char* to_string(ListenerProtocol protocol) {
    switch (protocol) {
        case ListenerProtocol::http: return "http";
        case ListenerProtocol::https: return "https";
        case ListenerProtocol::tcp: return "tcp";
        case ListenerProtocol::tls_passthrough: return "tls_passthrough";
        case ListenerProtocol::udp: return "udp";
    }
    return "unknown";
}

const char* to_string(TargetProtocol protocol) {
    switch (protocol) {
        case TargetProtocol::http: return "http";
        case TargetProtocol::https: return "https";
        case TargetProtocol::tcp: return "tcp";
        case TargetProtocol::udp: return "udp";
    }
    return "unknown";
}

const char* to_string(Algorithm algorithm) {
    switch (algorithm) {
        case Algorithm::round_robin: return "round_robin";
        case Algorithm::least_outstanding_requests: return "least_outstanding_requests";
        case Algorithm::weighted_random: return "weighted_random";
        case Algorithm::source_ip_hash: return "source_ip_hash";
    }
    return "unknown";
}

const char* to_string(HealthCheck::Protocol protocol) {
    switch (protocol) {
        case HealthCheck::Protocol::http: return "http";
        case HealthCheck::Protocol::https: return "https";
        case HealthCheck::Protocol::tcp: return "tcp";
    }
    return "unknown";
}

}  // namespace lb::conf

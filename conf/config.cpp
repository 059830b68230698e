#include "conf/config.h"

#include "conf/enum_names.h"

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

const char* to_string(ListenerProtocol protocol) { return name_of(kListenerProtocolNames, protocol); }
const char* to_string(TargetProtocol protocol) { return name_of(kTargetProtocolNames, protocol); }
const char* to_string(Algorithm algorithm) { return name_of(kAlgorithmNames, algorithm); }
const char* to_string(HealthCheck::Protocol protocol) { return name_of(kHealthCheckProtocolNames, protocol); }
const char* to_string(Http2Mode mode) { return name_of(kHttp2ModeNames, mode); }

}  // namespace lb::conf

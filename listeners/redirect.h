// The redirect action (ALB semantics): builds the Location value from the
// rule's RedirectAction and the request it answers.
#pragma once

#include <string>
#include <string_view>

#include "conf/config.h"

namespace lb {

// The parts of the request a redirect may reuse, as received (percent-encoding
// is neither undone nor redone).
struct RedirectRequest {
    std::string_view protocol;  // "http" | "https"
    std::string_view host;      // no port
    std::string_view port;      // "80"
    std::string_view path;      // starts with '/', no query
    std::string_view query;     // raw, no '?'
};

// "https://example.com/a/b?x=1". Each field may use #{protocol} #{host}
// #{port} #{path} #{query}; #{path} is the path without its leading '/'.
// The protocol is written in lower case, the port is left out when it is the
// default for the resulting protocol, an empty query adds no '?'.
std::string redirect_location(const conf::RedirectAction& action, const RedirectRequest& request);

}  // namespace lb

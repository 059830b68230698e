#include "listeners/redirect.h"

#include "lb/routing/wildcard.h"

namespace lb {

namespace {

// Placeholder value, or false for a name ALB does not define.
bool placeholder(std::string_view name, const RedirectRequest& request, std::string_view& value) {
    if (name == "protocol") value = request.protocol;
    else if (name == "host") value = request.host;
    else if (name == "port") value = request.port;
    else if (name == "path") value = request.path.starts_with('/') ? request.path.substr(1) : request.path;
    else if (name == "query") value = request.query;
    else return false;
    return true;
}

// Unknown or unterminated placeholders are kept as written.
void expand(std::string_view field, const RedirectRequest& request, std::string& out) {
    while (!field.empty()) {
        size_t open = field.find("#{");
        if (open == std::string_view::npos) break;
        size_t close = field.find('}', open + 2);
        if (close == std::string_view::npos) break;
        out.append(field.substr(0, open));
        std::string_view value;
        if (placeholder(field.substr(open + 2, close - open - 2), request, value))
            out.append(value);
        else
            out.append(field.substr(open, close - open + 1));
        field.remove_prefix(close + 1);
    }
    out.append(field);
}

}  // namespace

std::string redirect_location(const conf::RedirectAction& action, const RedirectRequest& request) {
    std::string protocol, host, port, path, query;
    expand(action.protocol, request, protocol);
    expand(action.host, request, host);
    expand(action.port, request, port);
    expand(action.path, request, path);
    expand(action.query, request, query);
    for (char& c : protocol) c = ascii_lower(c);

    std::string location;
    location.reserve(protocol.size() + host.size() + port.size() + path.size() + query.size() + 8);
    location.append(protocol).append("://").append(host);
    bool default_port = (protocol == "http" && port == "80") || (protocol == "https" && port == "443");
    if (!port.empty() && !default_port) location.append(":").append(port);
    // A Location path must be absolute; "#{path}" alone would lose the '/'.
    if (!path.starts_with('/')) location.push_back('/');
    location.append(path);
    std::string_view query_text = query;
    if (query_text.starts_with('?')) query_text.remove_prefix(1);  // tolerate "?a=1" in config
    if (!query_text.empty()) location.append("?").append(query_text);
    return location;
}

}  // namespace lb

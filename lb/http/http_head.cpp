#include "lb/http/http_head.h"

#include <cstring>

namespace lb {

namespace {

// Calls fn(token) for each comma-separated token of a header value.
template <class Fn>
void for_each_token(std::string_view value, Fn fn) {
    while (!value.empty()) {
        size_t comma = value.find(',');
        std::string_view token = trim_spaces(value.substr(0, comma));
        if (!token.empty()) fn(token);
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
}

void append_header(std::string& out, std::string_view name, std::string_view value) {
    out.append(name);
    out.append(": ");
    out.append(value);
    out.append("\r\n");
}

constexpr std::string_view kAlwaysHopByHop[] = {
    "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
    "proxy-authenticate", "proxy-authorization",
};

}  // namespace

std::string_view trim_spaces(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

void HttpHead::clear() {
    method.clear();
    url.clear();
    status = 0;
    reason.clear();
    http_major = 1;
    http_minor = 1;
    headers.clear();
    // Room for a typical head at once, rather than growing 1, 2, 4, 8, 16
    // (a head moved out to its exchange leaves no capacity behind).
    headers.reserve(kTypicalHeaders);
    content_length.reset();
    chunked = false;
    upgrade = false;
    keep_alive = true;
}

std::optional<std::string_view> HttpHead::header(std::string_view name) const {
    for (const auto& [key, value] : headers)
        if (iequals(key, name)) return std::string_view(value);
    return std::nullopt;
}

bool HttpHead::has_token(std::string_view header_name, std::string_view token) const {
    bool found = false;
    for (const auto& [key, value] : headers) {
        if (!iequals(key, header_name)) continue;
        for_each_token(value, [&](std::string_view t) { found = found || iequals(t, token); });
    }
    return found;
}

TargetParts split_request_target(std::string_view url) {
    TargetParts parts;
    std::string_view rest = url;
    if (!rest.empty() && rest.front() != '/') {
        // absolute-form: scheme://authority/path?query
        size_t scheme_end = rest.find("://");
        if (scheme_end != std::string_view::npos) {
            rest.remove_prefix(scheme_end + 3);
            size_t slash = rest.find_first_of("/?");
            parts.authority = rest.substr(0, slash);
            rest = slash == std::string_view::npos ? std::string_view("/") : rest.substr(slash);
        }
    }
    size_t q = rest.find('?');
    parts.path = rest.substr(0, q);
    if (parts.path.empty()) parts.path = "/";
    if (q != std::string_view::npos) {
        std::string_view query = rest.substr(q + 1);
        size_t hash = query.find('#');
        parts.query = query.substr(0, hash);
    }
    return parts;
}

std::string_view host_without_port(std::string_view host) {
    host = trim_spaces(host);
    if (!host.empty() && host.front() == '[') {
        size_t close = host.find(']');
        return close == std::string_view::npos ? host : host.substr(0, close + 1);
    }
    size_t colon = host.rfind(':');
    return colon == std::string_view::npos ? host : host.substr(0, colon);
}

bool is_hop_by_hop(const HttpHead& head, std::string_view name) {
    for (std::string_view h : kAlwaysHopByHop)
        if (iequals(h, name)) return true;
    return head.has_token("connection", name);
}

bool is_idempotent(std::string_view method) {
    for (std::string_view m : {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
        if (method == m) return true;
    return false;
}

std::string serialize_upstream_request(const HttpHead& request, std::string_view target, std::string_view host,
                                       const ForwardedFor& forwarded) {
    std::string out;
    out.reserve(512 + request.headers.size() * 48);
    out.append(request.method);
    out.push_back(' ');
    out.append(target);
    out.append(" HTTP/1.1\r\n");
    append_header(out, "Host", host);

    std::string xff;
    for (const auto& [name, value] : request.headers) {
        if (is_hop_by_hop(request, name) || iequals(name, "host") || iequals(name, "content-length")) continue;
        if (iequals(name, "x-forwarded-for")) {
            if (!xff.empty()) xff.append(", ");
            xff.append(trim_spaces(value));
            continue;
        }
        if (iequals(name, "x-forwarded-proto") || iequals(name, "x-forwarded-port")) continue;
        append_header(out, name, value);
    }
    if (!xff.empty()) xff.append(", ");
    xff.append(forwarded.client_ip);
    append_header(out, "X-Forwarded-For", xff);
    append_header(out, "X-Forwarded-Proto", forwarded.proto);
    append_header(out, "X-Forwarded-Port", std::to_string(forwarded.port));

    if (request.chunked) append_header(out, "Transfer-Encoding", "chunked");
    else if (request.content_length) append_header(out, "Content-Length", std::to_string(*request.content_length));
    if (request.upgrade) {
        if (auto upgrade = request.header("upgrade")) append_header(out, "Upgrade", *upgrade);
        append_header(out, "Connection", "Upgrade");
    }
    out.append("\r\n");
    return out;
}

std::string serialize_client_response(const HttpHead& response, BodyFraming framing,
                                      std::optional<uint64_t> content_length, bool close_connection,
                                      bool client_is_http10, std::string_view extra_headers) {
    std::string out;
    out.reserve(256 + response.headers.size() * 48);
    out.append("HTTP/1.1 ");
    out.append(std::to_string(response.status));
    out.push_back(' ');
    out.append(response.reason.empty() ? status_reason(response.status) : response.reason);
    out.append("\r\n");
    bool switching = response.status == 101;
    for (const auto& [name, value] : response.headers) {
        if (switching && iequals(name, "upgrade")) {
            append_header(out, name, value);
            continue;
        }
        if (is_hop_by_hop(response, name) || iequals(name, "content-length")) continue;
        append_header(out, name, value);
    }
    if (content_length) append_header(out, "Content-Length", std::to_string(*content_length));
    out.append(extra_headers);
    if (switching) {
        append_header(out, "Connection", "Upgrade");
    } else {
        if (framing == BodyFraming::chunked) append_header(out, "Transfer-Encoding", "chunked");
        if (close_connection) append_header(out, "Connection", "close");
        else if (client_is_http10) append_header(out, "Connection", "keep-alive");
    }
    out.append("\r\n");
    return out;
}

const char* status_reason(int status) {
    switch (status) {
        case 100: return "Continue";
        case 101: return "Switching Protocols";
        case 102: return "Processing";
        case 103: return "Early Hints";
        case 200: return "OK";
        case 201: return "Created";
        case 202: return "Accepted";
        case 203: return "Non-Authoritative Information";
        case 204: return "No Content";
        case 205: return "Reset Content";
        case 206: return "Partial Content";
        case 300: return "Multiple Choices";
        case 301: return "Moved Permanently";
        case 302: return "Found";
        case 303: return "See Other";
        case 304: return "Not Modified";
        case 307: return "Temporary Redirect";
        case 308: return "Permanent Redirect";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 409: return "Conflict";
        case 411: return "Length Required";
        case 413: return "Content Too Large";
        case 414: return "URI Too Long";
        case 415: return "Unsupported Media Type";
        case 417: return "Expectation Failed";
        case 426: return "Upgrade Required";
        case 429: return "Too Many Requests";
        case 431: return "Request Header Fields Too Large";
        case 500: return "Internal Server Error";
        case 501: return "Not Implemented";
        case 502: return "Bad Gateway";
        case 503: return "Service Unavailable";
        case 504: return "Gateway Timeout";
        case 505: return "HTTP Version Not Supported";
        default: break;
    }
    if (status >= 200 && status < 300) return "OK";
    if (status >= 300 && status < 400) return "Redirect";
    if (status >= 400 && status < 500) return "Client Error";
    return "Server Error";
}

std::string error_body(int status) {
    return std::to_string(status) + " " + status_reason(status) + "\n";
}

std::string make_local_response(int status, std::string_view content_type, std::string_view body,
                                 bool close_connection, std::string_view extra_headers, bool head_request) {
    std::string out;
    out.reserve(160 + body.size() + extra_headers.size());
    out.append("HTTP/1.1 ");
    out.append(std::to_string(status));
    out.push_back(' ');
    out.append(status_reason(status));
    out.append("\r\nServer: lb\r\n");
    if (!content_type.empty()) append_header(out, "Content-Type", content_type);
    append_header(out, "Content-Length", std::to_string(body.size()));
    out.append(extra_headers);
    if (close_connection) out.append("Connection: close\r\n");
    out.append("\r\n");
    if (!head_request) out.append(body);
    return out;
}

}  // namespace lb

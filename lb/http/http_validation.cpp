#include "lb/http/http_validation.h"

#include <vector>

#include "lb/http/http_grammar.h"
#include "lb/http/path_normalize.h"

namespace lb {

namespace {

CheckedRequest refuse(int status, const char* error) {
    CheckedRequest checked;
    checked.status = status;
    checked.error = error;
    return checked;
}

// The transfer codings of every Transfer-Encoding header, in order.
std::vector<std::string_view> transfer_codings(const HttpHead& head) {
    std::vector<std::string_view> codings;
    for (const auto& [name, value] : head.headers) {
        if (!iequals(name, "transfer-encoding")) continue;
        std::string_view rest = value;
        while (true) {
            size_t comma = rest.find(',');
            std::string_view coding = trim_spaces(rest.substr(0, comma));
            if (!coding.empty()) codings.push_back(coding);
            if (comma == std::string_view::npos) break;
            rest.remove_prefix(comma + 1);
        }
    }
    return codings;
}

// 0, or the status for a request whose codings lb cannot frame.
int check_request_codings(const HttpHead& request, const char** error) {
    bool has_header = false;
    for (const auto& [name, value] : request.headers) has_header = has_header || iequals(name, "transfer-encoding");
    if (!has_header) return 0;
    // RFC 9112 section 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing.
    if (!request.is_http11_or_later()) {
        *error = "Transfer-Encoding in an HTTP/1.0 request";
        return 400;
    }
    std::vector<std::string_view> codings = transfer_codings(request);
    // Section 6.3: without a final chunked the length cannot be known.
    if (codings.empty() || !iequals(codings.back(), "chunked")) {
        *error = "chunked is not the final transfer coding";
        return 400;
    }
    // The parser frames the body. Where it did not take the codings as
    // chunked (llhttp 8 misses "chunked" followed by a tab), the two
    // readings disagree on where the request ends: refuse rather than
    // forward a body nobody framed (found by the http_request fuzzer).
    if (!request.chunked) {
        *error = "Transfer-Encoding the parser does not frame as chunked";
        return 400;
    }
    if (request.content_length) {
        *error = "both Content-Length and Transfer-Encoding";
        return 400;
    }
    for (size_t i = 0; i + 1 < codings.size(); ++i) {
        if (iequals(codings[i], "chunked")) {
            *error = "chunked applied twice";
            return 400;
        }
    }
    // gzip, chunked: lb would have to pass on a coding it does not
    // understand as if it were the body (nginx answers 501 too).
    if (codings.size() > 1) {
        *error = "transfer coding not supported";
        return 501;
    }
    return 0;
}

}  // namespace

CheckedRequest check_request(const HttpHead& request, const conf::PathNormalization& normalization) {
    if (request.http_major != 1 || request.http_minor > 1) return refuse(505, "HTTP version not supported");

    const std::string* host_header = nullptr;
    for (const auto& [name, value] : request.headers) {
        if (!is_token(name)) return refuse(400, "invalid header name");
        if (!is_field_value(value)) return refuse(400, "invalid header value");
        if (iequals(name, "host")) {
            if (host_header) return refuse(400, "more than one Host header");
            host_header = &value;
        }
    }
    if (!host_header && request.is_http11_or_later()) return refuse(400, "missing Host header");
    std::string_view host_value = host_header ? trim_spaces(*host_header) : std::string_view();
    if (!is_authority(host_value)) return refuse(400, "invalid Host header");

    const char* coding_error = "";
    if (int status = check_request_codings(request, &coding_error)) return refuse(status, coding_error);

    // The request-target (RFC 9112 section 3.2): origin-form, absolute-form
    // (its authority replaces Host), or asterisk-form for OPTIONS. A
    // fragment is never part of it.
    std::string_view url = request.url;
    if (url.find('#') != std::string_view::npos) return refuse(400, "fragment in request target");
    CheckedRequest checked;
    std::string_view authority = host_value;
    std::string_view rest = url;
    if (url == "*") {
        if (request.method != "OPTIONS") return refuse(400, "asterisk-form is only for OPTIONS");
        checked.path = "*";
        checked.target = "*";
    } else if (url.empty() || url.front() != '/') {
        size_t scheme_end = url.find("://");
        if (scheme_end == std::string_view::npos) return refuse(400, "invalid request target");
        std::string_view scheme = url.substr(0, scheme_end);
        if (!iequals(scheme, "http") && !iequals(scheme, "https")) return refuse(400, "request target scheme is not http");
        rest = url.substr(scheme_end + 3);
        size_t end = rest.find_first_of("/?");
        authority = rest.substr(0, end);
        rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
        if (authority.empty()) return refuse(400, "request target without authority");
        if (authority.find('@') != std::string_view::npos) return refuse(400, "userinfo in request target");
        if (!is_authority(authority)) return refuse(400, "invalid authority in request target");
    }
    if (checked.target.empty()) {
        size_t q = rest.find('?');
        std::string_view raw_path = rest.substr(0, q);
        if (raw_path.empty()) raw_path = "/";
        if (raw_path.front() != '/') return refuse(400, "invalid request target");
        bool has_query = q != std::string_view::npos;
        if (has_query) checked.query = std::string(rest.substr(q + 1));
        auto normalized = normalize_path(raw_path, normalization.merge_slashes);
        if (!normalized) return refuse(400, "malformed percent-encoding in path");
        checked.path = std::move(*normalized);
        checked.target = normalization.forward_normalized ? checked.path : std::string(raw_path);
        if (has_query) {
            checked.target.push_back('?');
            checked.target.append(checked.query);
        }
    }
    checked.authority = std::string(authority);
    checked.host = std::string(host_without_port(authority));
    return checked;
}

ResponsePlan plan_response(const HttpHead& response, bool head_request, bool client_http10) {
    ResponsePlan plan;
    auto fail = [&](const char* error) {
        plan.status = 502;
        plan.error = error;
        return plan;
    };
    if (response.http_major != 1 || response.http_minor > 1) return fail("unsupported HTTP version from target");
    if (response.status < 100 || response.status > 599) return fail("invalid status from target");
    for (const auto& [name, value] : response.headers) {
        if (!is_token(name)) return fail("invalid header name from target");
        if (!is_field_value(value)) return fail("invalid header value from target");
    }
    std::vector<std::string_view> codings = transfer_codings(response);
    bool has_codings = false;
    for (const auto& [name, value] : response.headers) has_codings = has_codings || iequals(name, "transfer-encoding");
    // Anything but a single chunked would reach the client as a body it
    // cannot decode (nginx answers 502 as well).
    if (has_codings && (codings.size() != 1 || !iequals(codings.front(), "chunked")))
        return fail("unsupported transfer coding from target");

    // RFC 9110 section 15.2.2: a 101 names the protocol it switches to, and
    // without it llhttp would read the tunnel's bytes as the next response.
    if (response.status == 101 && !response.upgrade) return fail("101 without Upgrade from target");
    if (response.status < 200) return plan;  // interim, or 101: no body

    // RFC 9112 section 6.3: responses to HEAD, and 204 and 304, end with
    // their head whatever their headers say. HEAD and 304 keep
    // Content-Length (it describes the representation); 204 may not have one.
    int status = response.status;
    if (head_request || status == 204 || status == 304) {
        plan.framing = BodyFraming::none;
        if (status != 204) plan.content_length = response.content_length;
        // A 204 announcing a body: the target may well send one, which the
        // next request on this connection would read as its answer.
        if (status == 204 && !head_request && (response.chunked || response.content_length.value_or(0) > 0))
            plan.reusable = false;
        return plan;
    }
    if (response.chunked) {
        plan.framing = client_http10 ? BodyFraming::until_close : BodyFraming::chunked;
    } else if (response.content_length) {
        plan.framing = BodyFraming::content_length;
        plan.content_length = response.content_length;
    } else {
        plan.framing = client_http10 ? BodyFraming::until_close : BodyFraming::chunked;
        plan.reusable = false;  // delimited by the target's close
    }
    return plan;
}

}  // namespace lb

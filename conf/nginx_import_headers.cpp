// nginx variables in header values, proxy_set_header / add_header /
// proxy_hide_header, and `return` (README, "Header rewriting" has the
// variable table this follows).
#include <algorithm>
#include <cctype>
#include <map>

#include "conf/header_template.h"
#include "conf/nginx_importer.h"
#include "conf/patterns.h"
#include "lb/base/ascii.h"

namespace lb::conf::nginx {

namespace {

// nginx's variables that lb has as #{...}.
const std::map<std::string, std::string>& lb_variables() {
    static const std::map<std::string, std::string> table{
        {"remote_addr", "#{client_ip}"},  {"remote_port", "#{client_port}"},   {"host", "#{host}"},
        {"scheme", "#{scheme}"},          {"server_port", "#{server_port}"},   {"request_method", "#{method}"},
        {"request_uri", "#{request_uri}"}, {"request_id", "#{request_id}"},    {"upstream_addr", "#{target}"},
    };
    return table;
}

// A value split into literal text and variable names.
struct Piece {
    bool variable = false;
    std::string text;
};

std::vector<Piece> split_variables(const std::string& value) {
    std::vector<Piece> out;
    auto literal = [&](char c) {
        if (out.empty() || out.back().variable) out.push_back(Piece{false, ""});
        out.back().text.push_back(c);
    };
    for (size_t i = 0; i < value.size(); ++i) {
        if (value[i] != '$' || i + 1 >= value.size()) {
            literal(value[i]);
            continue;
        }
        size_t start = i + 1;
        bool braced = value[start] == '{';
        if (braced) ++start;
        size_t end = start;
        while (end < value.size() && (std::isalnum(static_cast<unsigned char>(value[end])) || value[end] == '_')) ++end;
        if (end == start || (braced && (end >= value.size() || value[end] != '}'))) {
            literal(value[i]);
            continue;
        }
        out.push_back(Piece{true, value.substr(start, end - start)});
        i = braced ? end : end - 1;
    }
    return out;
}

bool has_control(const std::string& text) {
    return std::any_of(text.begin(), text.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

bool named(const KeyValues& entries, const std::string& name) {
    return std::any_of(entries.begin(), entries.end(), [&](const auto& e) { return iequals(e.first, name); });
}

bool has_variables(const std::string& value) {
    for (const auto& piece : split_variables(value))
        if (piece.variable) return true;
    return false;
}

}  // namespace

std::optional<std::string> Importer::header_value(const std::string& value, const std::string& proxy_host,
                                                  std::string& unknown) const {
    std::string out;
    for (const auto& piece : split_variables(value)) {
        if (!piece.variable) {
            if (piece.text.find("#{") != std::string::npos) {
                unknown = "the text '#{', which lb would read as a variable";
                return std::nullopt;
            }
            out += piece.text;
            continue;
        }
        auto found = lb_variables().find(piece.text);
        if (found != lb_variables().end()) {
            out += found->second;
        } else if (piece.text == "proxy_host" && !proxy_host.empty()) {
            out += proxy_host;
        } else {
            unknown = "$" + piece.text;
            return std::nullopt;
        }
    }
    return out;
}

void Importer::request_headers(const Scope& scope, const std::string& proxy_host, HeaderEditsModel& out) {
    bool host_written = false;
    for (const NginxDirective* directive : scope.all("proxy_set_header")) {
        if (directive->args.size() != 2) {
            report_.unsupported(*directive, "expected a name and a value; left out");
            continue;
        }
        const std::string& name = directive->args[0];
        const std::string& value = directive->args[1];
        const std::string key = ascii_lower(name);
        if (key == "host") {
            if (host_written) {
                report_.approximated(*directive, "a second Host: lb sends one, the first");
                continue;
            }
            host_written = true;
            if (value == "$http_host") {
                report_.ignored(*directive);  // lb forwards the client's Host
            } else if (value == "$host") {
                out.set.emplace_back("Host", "#{host}");
            } else {
                std::string unknown;
                auto mapped = header_value(value, proxy_host, unknown);
                if (!mapped || mapped->empty() || has_control(*mapped))
                    report_.unsupported(*directive, "lb has no counterpart of " + (unknown.empty() ? "an empty Host" : unknown) +
                                                        "; the target gets the client's Host");
                else
                    out.set.emplace_back("Host", *mapped);
            }
            continue;
        }
        if (key == "x-forwarded-for") {
            if (value == "$proxy_add_x_forwarded_for") report_.ignored(*directive);
            else report_.approximated(*directive, "lb appends the client address to X-Forwarded-For itself; the "
                                                  "value written here cannot replace it");
            continue;
        }
        if (key == "x-forwarded-proto" || key == "x-forwarded-port") {
            bool same = (key == "x-forwarded-proto" && value == "$scheme") ||
                        (key == "x-forwarded-port" && value == "$server_port");
            if (same) report_.ignored(*directive);
            else report_.approximated(*directive, "lb sets " + name + " from the listener itself; the value written "
                                                  "here cannot replace it");
            continue;
        }
        if (key == "upgrade" || key == "connection") {
            std::string v = ascii_lower(value);
            if (v == "$http_upgrade" || v == "upgrade" || v == "$connection_upgrade" || v == "keep-alive")
                report_.ignored(*directive, "lb passes WebSocket upgrades by itself");
            else if (v.empty() || v == "close")
                report_.ignored(*directive, "lb manages its connections to targets (pooled, kept alive) by itself");
            else
                report_.unsupported(*directive, "lb writes " + name + " itself");
            continue;
        }
        if (key == "keep-alive" || key == "te" || key == "transfer-encoding" || key == "content-length" ||
            key == "proxy-connection" || key == "trailer") {
            report_.unsupported(*directive, "lb writes the framing and hop-by-hop headers itself");
            continue;
        }
        HeaderEdit edit = value.empty() ? HeaderEdit::remove : named(out.set, name) ? HeaderEdit::add : HeaderEdit::set;
        if (auto why = check_editable_header(name, HeaderSide::request, edit)) {
            report_.unsupported(*directive, *why + "; left out");
            continue;
        }
        if (value.empty()) {
            // nginx sends no header with an empty value
            if (std::none_of(out.remove.begin(), out.remove.end(),
                             [&](const std::string& r) { return iequals(r, key); }))
                out.remove.push_back(name);
            continue;
        }
        std::string unknown;
        auto mapped = header_value(value, proxy_host, unknown);
        if (!mapped || has_control(*mapped)) {
            report_.unsupported(*directive, "lb has no counterpart of " + (mapped ? "a control character" : unknown) +
                                                "; the header was left out");
            continue;
        }
        // nginx sends every proxy_set_header of a name: the first is a set, the others adds.
        if (edit == HeaderEdit::set) {
            out.set.emplace_back(name, *mapped);
        } else if (!named(out.add, name)) {
            out.add.emplace_back(name, *mapped);
        } else {
            report_.approximated(*directive, "lb adds one header of a name per action; this one was left out");
        }
    }
    // nginx's default is "proxy_set_header Host $proxy_host": the name in
    // proxy_pass, where lb would forward the client's Host.
    if (!host_written && !proxy_host.empty()) out.set.insert(out.set.begin(), {"Host", proxy_host});
}

void Importer::response_headers(const Scope& scope, HeaderEditsModel& out) {
    for (const NginxDirective* directive : scope.all("add_header")) {
        if (directive->args.size() < 2 || directive->args.size() > 3 ||
            (directive->args.size() == 3 && directive->args[2] != "always")) {
            report_.unsupported(*directive, "expected a name, a value and maybe 'always'; left out");
            continue;
        }
        const std::string& name = directive->args[0];
        if (auto why = check_editable_header(name, HeaderSide::response, HeaderEdit::add)) {
            report_.unsupported(*directive, *why + "; left out");
            continue;
        }
        if (directive->args[1].empty()) continue;  // nginx adds nothing for an empty value
        std::string unknown;
        auto mapped = header_value(directive->args[1], "", unknown);
        if (!mapped || has_control(*mapped)) {
            report_.unsupported(*directive, "lb has no counterpart of " + (mapped ? "a control character" : unknown) +
                                                "; the header was left out");
            continue;
        }
        if (named(out.add, name)) {
            report_.approximated(*directive, "lb adds one header of a name per action; this one was left out");
            continue;
        }
        out.add.emplace_back(name, *mapped);
        if (directive->args.size() == 2)
            report_.approximated(*directive, "nginx adds it only to 200, 201, 204, 206, 301, 302, 303, 304, 307 and "
                                             "308 responses; lb adds it to every response from the target "
                                             "(add 'always' to say that is meant)");
    }
    for (const NginxDirective* directive : scope.all("proxy_hide_header")) {
        if (directive->args.size() != 1) continue;
        if (auto why = check_editable_header(directive->args[0], HeaderSide::response, HeaderEdit::remove))
            report_.unsupported(*directive, *why + "; left out");
        else if (std::none_of(out.remove.begin(), out.remove.end(),
                              [&](const std::string& r) { return iequals(r, directive->args[0]); }))
            out.remove.push_back(directive->args[0]);
    }
}

void Importer::answer_headers(const Scope& scope, int status, HeaderEditsModel& out) {
    static constexpr int kCovered[] = {200, 201, 204, 206, 301, 302, 303, 304, 307, 308};
    const bool covered = std::find(std::begin(kCovered), std::end(kCovered), status) != std::end(kCovered);
    for (const NginxDirective* directive : scope.all("add_header")) {
        const auto& args = directive->args;
        if (args.size() < 2 || args.size() > 3 || (args.size() == 3 && args[2] != "always")) continue;
        if (!covered && args.size() != 3) continue;
        if (args[1].empty() || check_editable_header(args[0], HeaderSide::response, HeaderEdit::add)) continue;
        std::string unknown;
        auto mapped = header_value(args[1], "", unknown);
        if (!mapped || has_control(*mapped) || named(out.add, args[0])) continue;
        out.add.emplace_back(args[0], *mapped);
    }
}

std::optional<ActionModel> Importer::return_action(const NginxDirective& directive, const Scope& scope,
                                                   const std::vector<std::string>& server_names) {
    const auto& args = directive.args;
    if (args.empty() || args.size() > 2) {
        report_.unsupported(directive, "expected a code and a URL or text");
        return std::nullopt;
    }
    int code = 302;
    std::string text;
    bool code_only = !args[0].empty() && args[0].find_first_not_of("0123456789") == std::string::npos &&
                     args[0].size() <= 3;
    if (code_only) {
        code = std::stoi(args[0]);
        if (args.size() == 2) text = args[1];
    } else if (args.size() == 1) {
        text = args[0];  // "return URL": a 302
    } else {
        report_.unsupported(directive, "expected a code and a URL or text");
        return std::nullopt;
    }
    ActionModel action;
    bool redirect = code == 301 || code == 302 || code == 303 || code == 307 || code == 308;
    if (!redirect || text.empty()) {
        if (code == 444) {
            report_.approximated(directive, "lb cannot close a connection without answering; it answers 444 with "
                                            "no body");
        } else if (code < 200 || code > 599) {
            report_.unsupported(directive, "lb answers statuses 200..599 only");
            return std::nullopt;
        }
        action.kind = ActionModel::Kind::fixed_response;
        action.status = code;
        action.body = text;
        if (!text.empty() && (code == 204 || code == 304)) {
            report_.approximated(directive, "a " + std::to_string(code) + " has no body; the text was left out");
            action.body.clear();
        }
        if (!action.body.empty()) {
            const NginxDirective* type = scope.last("default_type");
            action.content_type = type && type->args.size() == 1 && !has_control(type->args[0]) ? type->args[0]
                                                                                                : "text/plain";
            if (has_variables(text))
                report_.approximated(directive, "lb's fixed_response body has no variables; the text is sent as written");
        }
        if (action.body.size() > 64 * 1024) {
            report_.unsupported(directive, "the body is over lb's 64 KiB limit for fixed responses");
            return std::nullopt;
        }
        answer_headers(scope, action.status, action.response_headers);
        return action;
    }
    action.kind = ActionModel::Kind::redirect;
    action.status = code;
    std::string rest = text;
    std::string scheme;
    for (const char* prefix : {"http://", "https://", "$scheme://"}) {
        if (rest.rfind(prefix, 0) == 0) {
            scheme = std::string(prefix).substr(0, std::string(prefix).find(':'));
            rest = rest.substr(std::string(prefix).size());
        }
    }
    if (!scheme.empty()) {
        std::string host;
        for (const char* variable : {"$http_host", "$host", "$server_name"}) {
            std::string v = variable;
            bool longer = rest.size() > v.size() &&
                          (std::isalnum(static_cast<unsigned char>(rest[v.size()])) || rest[v.size()] == '_');
            if (rest.rfind(v, 0) == 0 && !longer) {
                host = v;
                rest = rest.substr(v.size());
                break;
            }
        }
        if (host.empty()) {
            size_t end = rest.find_first_of("/?$:");
            host = rest.substr(0, end);
            rest = end == std::string::npos ? "" : rest.substr(end);
        }
        std::string port;
        if (!rest.empty() && rest.front() == ':') {
            size_t end = rest.find_first_not_of("0123456789", 1);
            port = rest.substr(1, end == std::string::npos ? std::string::npos : end - 1);
            rest = end == std::string::npos ? "" : rest.substr(end);
            if (port.empty()) {
                report_.unsupported(directive, "lb's redirect port must be a number");
                return std::nullopt;
            }
        }
        if (scheme == "https") action.protocol = "HTTPS";
        else if (scheme == "http") action.protocol = "HTTP";
        if (host == "$host") {
            // the request's own host: lb's default
        } else if (host == "$http_host") {
            report_.approximated(directive, "$http_host is read as the host without its port");
        } else if (host == "$server_name") {
            if (!server_names.empty()) action.host = server_names.front();
        } else if (!has_variables(host) && !host.empty() && !check_host_name(host)) {
            action.host = host;
        } else {
            report_.unsupported(directive, "lb's redirect host can only be the request's or a fixed name");
            return std::nullopt;
        }
        if (!port.empty()) {
            if (port.size() > 5 || std::stoi(port) < 1 || std::stoi(port) > 65535) {
                report_.unsupported(directive, "the port " + port + " is out of range");
                return std::nullopt;
            }
            action.port = port;
        } else if (scheme == "https") {
            action.port = "443";
        } else if (scheme == "http") {
            action.port = "80";
        }
    }
    // The path and query.
    std::string path = rest;
    std::string query;
    size_t question = path.find('?');
    if (question != std::string::npos) {
        query = path.substr(question + 1);
        path = path.substr(0, question);
    }
    auto replace_tail = [&](const std::string& variable, const std::string& path_part, const std::string& query_part) {
        if (path.size() >= variable.size() && path.compare(path.size() - variable.size(), variable.size(), variable) == 0) {
            path = path.substr(0, path.size() - variable.size());
            while (!path.empty() && path.back() == '/') path.pop_back();
            path += path_part;
            if (question == std::string::npos) query = query_part;
            return true;
        }
        return false;
    };
    if (!replace_tail("$request_uri", "/#{path}", "#{query}") &&
        !replace_tail("$uri$is_args$args", "/#{path}", "#{query}") && !replace_tail("$uri", "/#{path}", "") &&
        !replace_tail("$document_uri", "/#{path}", "")) {
        if (path.empty()) path = "/";
    }
    if (query == "$args" || query == "$query_string") query = "#{query}";
    auto literal = [](std::string text) {
        for (const char* placeholder : {"#{path}", "#{query}"})
            for (size_t at; (at = text.find(placeholder)) != std::string::npos;) text.erase(at, std::string(placeholder).size());
        return text;
    };
    std::string literals = literal(path) + literal(query);
    if (has_variables(path) || has_variables(query) || has_control(literals) ||
        literals.find_first_of(" #") != std::string::npos || (!query.empty() && query.front() == '?')) {
        report_.unsupported(directive, "lb's redirect path and query can only use the request's path and query");
        return std::nullopt;
    }
    if (path.empty() || path.front() != '/') {
        report_.unsupported(directive, "the redirect URL is not absolute and not a path");
        return std::nullopt;
    }
    action.path = path;
    action.query = query;
    answer_headers(scope, action.status, action.response_headers);
    return action;
}

}  // namespace lb::conf::nginx

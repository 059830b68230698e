#include "lb/routing/rewrites.h"

#include <algorithm>

namespace lb {

namespace {

void append_variable(std::string& out, conf::HeaderVariable variable, const HeaderVariables& v) {
    using conf::HeaderVariable;
    switch (variable) {
        case HeaderVariable::client_ip: out.append(v.client_ip); return;
        case HeaderVariable::client_port: out.append(std::to_string(v.client_port)); return;
        case HeaderVariable::host: out.append(v.host); return;
        case HeaderVariable::scheme: out.append(v.scheme); return;
        case HeaderVariable::server_port: out.append(std::to_string(v.server_port)); return;
        case HeaderVariable::method: out.append(v.method); return;
        case HeaderVariable::request_uri: out.append(v.request_uri); return;
        case HeaderVariable::request_id: out.append(v.request_id); return;
        case HeaderVariable::listener: out.append(v.listener); return;
        case HeaderVariable::rule:
            if (v.rule == 0) out.append("default");
            else out.append(std::to_string(v.rule));
            return;
        case HeaderVariable::target_group: out.append(v.target_group); return;
        case HeaderVariable::target: out.append(v.target); return;
    }
}

std::string expand(const conf::HeaderTemplate& header, const HeaderVariables& variables) {
    std::string out;
    for (const auto& piece : header.pieces) {
        if (piece.variable) append_variable(out, *piece.variable, variables);
        else out.append(piece.literal);
    }
    return out;
}

void remove_all(HttpHead& head, std::string_view name) {
    std::erase_if(head.headers, [&](const auto& field) { return iequals(field.first, name); });
}

}  // namespace

void apply_header_edits(HttpHead& head, const conf::HeaderEdits& edits, const HeaderVariables& variables) {
    for (const std::string& name : edits.remove) remove_all(head, name);
    for (const auto& header : edits.set) {
        std::string value = expand(header, variables);
        // Replaced in place (the first one's position), so a set keeps the
        // order a target may care about.
        auto first = std::find_if(head.headers.begin(), head.headers.end(),
                                  [&](const auto& field) { return iequals(field.first, header.name); });
        if (first == head.headers.end()) {
            head.headers.emplace_back(header.name, std::move(value));
            continue;
        }
        first->second = std::move(value);
        auto rest = std::remove_if(first + 1, head.headers.end(),
                                   [&](const auto& field) { return iequals(field.first, header.name); });
        head.headers.erase(rest, head.headers.end());
    }
    for (const auto& header : edits.add) head.headers.emplace_back(header.name, expand(header, variables));
}

void append_header_lines(std::string& out, const conf::HeaderEdits& edits, const HeaderVariables& variables) {
    for (const auto* list : {&edits.set, &edits.add}) {
        for (const auto& header : *list) {
            out.append(header.name);
            out.append(": ");
            out.append(expand(header, variables));
            out.append("\r\n");
        }
    }
}

bool uses_variable(const conf::HeaderEdits& edits, conf::HeaderVariable variable) {
    for (const auto* list : {&edits.set, &edits.add})
        for (const auto& header : *list)
            for (const auto& piece : header.pieces)
                if (piece.variable == variable) return true;
    return false;
}

std::optional<std::string> rewrite_path(std::string_view target, const conf::PathRewrite& rewrite) {
    if (!rewrite.enabled() || !target.starts_with(rewrite.prefix)) return std::nullopt;
    std::string out = rewrite.replacement;
    std::string_view rest = target.substr(rewrite.prefix.size());
    // "/new/" + "a" or "/new" + "/a": one slash between them, never two.
    if (!out.empty() && out.back() == '/' && rest.starts_with('/')) rest.remove_prefix(1);
    out.append(rest);
    return out;
}

}  // namespace lb

#include "conf/access_log_format.h"

#include <array>
#include <utility>

namespace lb::conf {

namespace {

constexpr std::array<std::string_view, kLogFieldCount> kFieldNames{
    "time",        "listener",      "client",      "client_port", "request_id", "trace_id",     "span_id",
    "method",      "host",          "url",         "protocol",    "status",     "bytes_in",     "bytes_out",
    "duration_ms", "connect_ms",    "first_byte_ms", "target",    "target_group", "rule",       "retries",
    "user_agent",  "referer",       "tls_version", "tls_cipher",  "sni",        "error",
};

constexpr std::pair<std::string_view, LogVariable> kVariables[] = {
    {"remote_addr", LogVariable::remote_addr},
    {"remote_port", LogVariable::remote_port},
    {"remote_user", LogVariable::remote_user},
    {"time_local", LogVariable::time_local},
    {"time_iso8601", LogVariable::time_iso8601},
    {"msec", LogVariable::msec},
    {"request", LogVariable::request},
    {"request_method", LogVariable::request_method},
    {"request_uri", LogVariable::request_uri},
    {"host", LogVariable::host},
    {"server_protocol", LogVariable::server_protocol},
    {"status", LogVariable::status},
    {"body_bytes_sent", LogVariable::body_bytes_sent},
    {"bytes_sent", LogVariable::body_bytes_sent},
    {"bytes_received", LogVariable::bytes_received},
    {"request_length", LogVariable::bytes_received},
    {"request_time", LogVariable::request_time},
    {"upstream_addr", LogVariable::upstream_addr},
    {"upstream_connect_time", LogVariable::upstream_connect_time},
    {"upstream_header_time", LogVariable::upstream_header_time},
    {"upstream_response_time", LogVariable::upstream_response_time},
    {"http_user_agent", LogVariable::http_user_agent},
    {"http_referer", LogVariable::http_referer},
    {"request_id", LogVariable::request_id},
    {"ssl_protocol", LogVariable::ssl_protocol},
    {"ssl_cipher", LogVariable::ssl_cipher},
    {"ssl_server_name", LogVariable::ssl_server_name},
    {"trace_id", LogVariable::trace_id},
    {"span_id", LogVariable::span_id},
    {"target_group", LogVariable::target_group},
    {"rule", LogVariable::rule},
    {"retries", LogVariable::retries},
    {"listener", LogVariable::listener},
    {"lb_error", LogVariable::lb_error},
};

bool name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

}  // namespace

std::string_view log_field_name(LogField field) { return kFieldNames[static_cast<size_t>(field)]; }

std::optional<LogField> log_field_by_name(std::string_view name) {
    for (size_t i = 0; i < kFieldNames.size(); ++i)
        if (kFieldNames[i] == name) return static_cast<LogField>(i);
    return std::nullopt;
}

std::string log_field_names() {
    std::string out;
    for (std::string_view name : kFieldNames) {
        if (!out.empty()) out += ", ";
        out += name;
    }
    return out;
}

CompiledLogTemplate compile_log_template(std::string_view text) {
    CompiledLogTemplate out;
    std::string literal;
    auto fail = [&](size_t offset, std::string message) {
        out.pieces.clear();
        out.error = std::move(message);
        out.error_offset = offset;
        return out;
    };
    size_t at = 0;
    while (at < text.size()) {
        char c = text[at];
        if (c == '\n' || c == '\r' || c == '\0') return fail(at, "a log template must not contain CR, LF or NUL");
        if (c != '$') {
            literal.push_back(c);
            ++at;
            continue;
        }
        if (at + 1 < text.size() && text[at + 1] == '$') {
            literal.push_back('$');
            at += 2;
            continue;
        }
        std::string_view name;
        size_t next = 0;
        if (at + 1 < text.size() && text[at + 1] == '{') {
            size_t close = text.find('}', at + 2);
            if (close == std::string_view::npos) return fail(at, "unterminated '${' in the log template");
            name = text.substr(at + 2, close - at - 2);
            next = close + 1;
        } else {
            size_t end = at + 1;
            while (end < text.size() && name_char(text[end])) ++end;
            name = text.substr(at + 1, end - at - 1);
            next = end;
        }
        if (name.empty()) return fail(at, "'$' without a variable name (write $$ for a '$')");
        std::optional<LogVariable> variable;
        for (const auto& [known, value] : kVariables)
            if (name == known) variable = value;
        if (!variable) return fail(at, "unknown log variable '$" + std::string(name) + "'");
        if (!literal.empty()) out.pieces.push_back({std::move(literal), std::nullopt});
        literal.clear();
        out.pieces.push_back({std::string(), variable});
        at = next;
    }
    if (!literal.empty()) out.pieces.push_back({std::move(literal), std::nullopt});
    return out;
}

}  // namespace lb::conf

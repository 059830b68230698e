// What an access log line holds (README "Logs"): the JSON fields a config
// may select, and the nginx-style text template (`format: template`),
// compiled here once when the config loads into literal text and
// variables; lb/runtime/access_log.cpp fills them in per line.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lb::conf {

// The JSON fields, in the order a line writes them.
enum class LogField {
    time,
    listener,
    client,
    client_port,
    request_id,
    trace_id,
    span_id,
    method,
    host,
    url,
    protocol,
    status,
    bytes_in,
    bytes_out,
    duration_ms,
    connect_ms,
    first_byte_ms,
    target,
    target_group,
    rule,
    retries,
    user_agent,
    referer,
    tls_version,
    tls_cipher,
    sni,
    error,
};
inline constexpr size_t kLogFieldCount = static_cast<size_t>(LogField::error) + 1;

std::string_view log_field_name(LogField field);
std::optional<LogField> log_field_by_name(std::string_view name);
// "time, listener, ..." for error messages.
std::string log_field_names();

// The template's variables: nginx's names where lb has the value, and lb's own.
enum class LogVariable {
    remote_addr,
    remote_port,
    remote_user,
    time_local,
    time_iso8601,
    msec,
    request,
    request_method,
    request_uri,
    host,
    server_protocol,
    status,
    body_bytes_sent,
    bytes_received,
    request_time,
    upstream_addr,
    upstream_connect_time,
    upstream_header_time,
    upstream_response_time,
    http_user_agent,
    http_referer,
    request_id,
    ssl_protocol,
    ssl_cipher,
    ssl_server_name,
    trace_id,
    span_id,
    target_group,
    rule,
    retries,
    listener,
    lb_error,
};

struct LogTemplatePiece {
    std::string literal;                     // when variable is empty
    std::optional<LogVariable> variable;
};

struct CompiledLogTemplate {
    std::vector<LogTemplatePiece> pieces;
    std::string error;                       // empty when the template is good
    size_t error_offset = 0;                 // where in the text the error is
};

// `$name` (the longest run of letters, digits and '_') or `${name}`; `$$`
// is one '$'. An unknown or missing name is an error at its offset.
CompiledLogTemplate compile_log_template(std::string_view text);

}  // namespace lb::conf

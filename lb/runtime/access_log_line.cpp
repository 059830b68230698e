// One access log line from an AccessLogEntry: JSON (all fields or the
// config's selection), nginx's combined format, or the config's compiled
// template (README "Logs").

#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "lb/base/log.h"
#include "lb/runtime/access_log.h"

namespace lb {

namespace {

using conf::LogField;
using conf::LogVariable;

struct Clock {
    int64_t unix_us;
    tm local() const {
        time_t seconds = static_cast<time_t>(unix_us / 1000000);
        tm parts;
        localtime_r(&seconds, &parts);
        return parts;
    }
};

void append_time_local(std::string& out, const Clock& clock) {
    tm parts = clock.local();
    char buf[64];
    size_t n = strftime(buf, sizeof(buf), "%d/%b/%Y:%H:%M:%S %z", &parts);
    out.append(buf, n);
}

void append_time_iso8601(std::string& out, const Clock& clock) {
    tm parts = clock.local();
    char buf[64];
    size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S%z", &parts);
    // nginx writes the offset as +01:00
    if (n < 5) {
        out.append(buf, n);
        return;
    }
    out.append(buf, n - 2);
    out.push_back(':');
    out.append(buf + n - 2, 2);
}

// µs as seconds with milliseconds, as nginx writes times: "0.012"
void append_seconds(std::string& out, int64_t us) {
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%" PRId64 ".%03d", us / 1000000, static_cast<int>(us / 1000 % 1000));
    out.append(buf, static_cast<size_t>(n));
}

double as_ms(int64_t us) { return static_cast<double>(us) / 1000.0; }

// Does `field` have a value in this line? (JSON leaves the others out.)
bool applies(LogField field, const AccessLogEntry& e) {
    switch (field) {
        case LogField::request_id: return !e.request_id.empty();
        case LogField::trace_id: return !e.trace_id.empty();
        case LogField::span_id: return !e.span_id.empty();
        case LogField::method:
        case LogField::url:
        case LogField::user_agent:
        case LogField::referer: return !e.method.empty();
        case LogField::host: return !e.method.empty() || !e.host.empty();
        case LogField::status: return !e.method.empty() || e.status != 0;
        case LogField::connect_ms: return e.connect_us >= 0;
        case LogField::first_byte_ms: return e.first_byte_us >= 0;
        case LogField::rule: return !e.rule.empty();
        case LogField::target: return !e.target.empty();              // lb answered itself
        case LogField::target_group: return !e.target_group.empty();  // and routed to no group
        case LogField::retries: return e.retries >= 0;
        case LogField::tls_version: return !e.tls_version.empty();
        case LogField::tls_cipher: return !e.tls_cipher.empty();
        case LogField::sni: return !e.sni.empty();
        case LogField::error: return !e.error.empty();
        default: return true;
    }
}

void put_field(nlohmann::ordered_json& line, LogField field, const AccessLogEntry& e, int64_t now_unix_us) {
    std::string key(conf::log_field_name(field));
    switch (field) {
        case LogField::time: line[key] = utc_timestamp(now_unix_us); return;
        case LogField::listener: line[key] = e.listener; return;
        case LogField::client: line[key] = e.client; return;
        case LogField::client_port: line[key] = e.client_port; return;
        case LogField::request_id: line[key] = e.request_id; return;
        case LogField::trace_id: line[key] = e.trace_id; return;
        case LogField::span_id: line[key] = e.span_id; return;
        case LogField::method: line[key] = e.method; return;
        case LogField::host: line[key] = e.host; return;
        case LogField::url: line[key] = e.url; return;
        case LogField::protocol: line[key] = e.protocol; return;
        case LogField::status: line[key] = e.status; return;
        case LogField::bytes_in: line[key] = e.bytes_in; return;
        case LogField::bytes_out: line[key] = e.bytes_out; return;
        case LogField::duration_ms: line[key] = e.duration_us / 1000; return;
        case LogField::connect_ms: line[key] = as_ms(e.connect_us); return;
        case LogField::first_byte_ms: line[key] = as_ms(e.first_byte_us); return;
        case LogField::target: line[key] = e.target; return;
        case LogField::target_group: line[key] = e.target_group; return;
        case LogField::rule: line[key] = e.rule; return;
        case LogField::retries: line[key] = e.retries; return;
        case LogField::user_agent: line[key] = e.user_agent; return;
        case LogField::referer: line[key] = e.referer; return;
        case LogField::tls_version: line[key] = e.tls_version; return;
        case LogField::tls_cipher: line[key] = e.tls_cipher; return;
        case LogField::sni: line[key] = e.sni; return;
        case LogField::error: line[key] = e.error; return;
    }
}

void format_json(std::string& out, const conf::AccessLog& config, const AccessLogEntry& e, int64_t now_unix_us) {
    nlohmann::ordered_json line = nlohmann::ordered_json::object();
    if (config.fields.empty()) {
        for (size_t i = 0; i < conf::kLogFieldCount; ++i) {
            auto field = static_cast<LogField>(i);
            if (applies(field, e)) put_field(line, field, e, now_unix_us);
        }
    } else {
        for (LogField field : config.fields)
            if (applies(field, e)) put_field(line, field, e, now_unix_us);
    }
    out.append(line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    out.push_back('\n');
}

void append_dash(std::string& out, std::string_view s) {
    if (s.empty()) out.push_back('-');
    else out.append(s);
}

// A value from the request, escaped as nginx does: '"', '\' and bytes
// outside printable ASCII as \xHH, so a header cannot break the line.
void append_escaped(std::string& out, std::string_view s) {
    if (s.empty()) {
        out.push_back('-');
        return;
    }
    static constexpr char kHex[] = "0123456789ABCDEF";
    for (char c : s) {
        auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte >= 0x7f || c == '"' || c == '\\') {
            out.append("\\x");
            out.push_back(kHex[byte >> 4]);
            out.push_back(kHex[byte & 0xf]);
        } else {
            out.push_back(c);
        }
    }
}

// nginx "combined" plus the target and the duration, as operators grep for
// it; what the client wrote is escaped as nginx escapes it.
void format_combined(std::string& out, const AccessLogEntry& e, int64_t now_unix_us) {
    out.append(e.client);
    out.append(" - - [");
    append_time_local(out, Clock{now_unix_us});
    out.append("] \"");
    if (!e.method.empty()) {
        append_escaped(out, e.method);
        out.push_back(' ');
        append_escaped(out, e.url);
        out.push_back(' ');
    }
    out.append(e.protocol);
    out.append("\" ");
    out.append(std::to_string(e.status));
    out.push_back(' ');
    out.append(std::to_string(e.bytes_out));
    out.append(" \"-\" \"");
    append_escaped(out, e.user_agent);
    out.append("\" ");
    append_dash(out, e.target);
    out.push_back(' ');
    out.append(std::to_string(e.duration_us / 1000));
    out.append("ms\n");
}

void append_number_or_dash(std::string& out, int64_t value, bool present) {
    if (present) out.append(std::to_string(value));
    else out.push_back('-');
}

void append_seconds_or_dash(std::string& out, int64_t us) {
    if (us >= 0) append_seconds(out, us);
    else out.push_back('-');
}

void append_variable(std::string& out, LogVariable variable, const AccessLogEntry& e, const Clock& clock) {
    switch (variable) {
        case LogVariable::remote_addr: append_escaped(out, e.client); return;
        case LogVariable::remote_port: out.append(std::to_string(e.client_port)); return;
        case LogVariable::remote_user: out.push_back('-'); return;  // lb authenticates nobody
        case LogVariable::time_local: append_time_local(out, clock); return;
        case LogVariable::time_iso8601: append_time_iso8601(out, clock); return;
        case LogVariable::msec: append_seconds(out, clock.unix_us); return;
        case LogVariable::request:
            if (e.method.empty()) {
                out.push_back('-');
                return;
            }
            append_escaped(out, e.method);
            out.push_back(' ');
            append_escaped(out, e.url);
            out.push_back(' ');
            append_escaped(out, e.protocol);
            return;
        case LogVariable::request_method: append_escaped(out, e.method); return;
        case LogVariable::request_uri: append_escaped(out, e.url); return;
        case LogVariable::host: append_escaped(out, e.host); return;
        case LogVariable::server_protocol: append_escaped(out, e.protocol); return;
        case LogVariable::status: append_number_or_dash(out, e.status, e.status != 0); return;
        case LogVariable::body_bytes_sent: out.append(std::to_string(e.bytes_out)); return;
        case LogVariable::bytes_received: out.append(std::to_string(e.bytes_in)); return;
        case LogVariable::request_time: append_seconds(out, e.duration_us); return;
        case LogVariable::upstream_addr: append_escaped(out, e.target); return;
        case LogVariable::upstream_connect_time: append_seconds_or_dash(out, e.connect_us); return;
        case LogVariable::upstream_header_time: append_seconds_or_dash(out, e.first_byte_us); return;
        case LogVariable::upstream_response_time: append_seconds_or_dash(out, e.upstream_us); return;
        case LogVariable::http_user_agent: append_escaped(out, e.user_agent); return;
        case LogVariable::http_referer: append_escaped(out, e.referer); return;
        case LogVariable::request_id: append_escaped(out, e.request_id); return;
        case LogVariable::ssl_protocol: append_escaped(out, e.tls_version); return;
        case LogVariable::ssl_cipher: append_escaped(out, e.tls_cipher); return;
        case LogVariable::ssl_server_name: append_escaped(out, e.sni); return;
        case LogVariable::trace_id: append_escaped(out, e.trace_id); return;
        case LogVariable::span_id: append_escaped(out, e.span_id); return;
        case LogVariable::target_group: append_escaped(out, e.target_group); return;
        case LogVariable::rule: append_escaped(out, e.rule); return;
        case LogVariable::retries: append_number_or_dash(out, e.retries, e.retries >= 0); return;
        case LogVariable::listener: append_escaped(out, e.listener); return;
        case LogVariable::lb_error: append_escaped(out, e.error); return;
    }
}

void format_template(std::string& out, const conf::AccessLog& config, const AccessLogEntry& e, int64_t now_unix_us) {
    Clock clock{now_unix_us};
    for (const auto& piece : config.text_template) {
        if (piece.variable) append_variable(out, *piece.variable, e, clock);
        else out.append(piece.literal);
    }
    out.push_back('\n');
}

}  // namespace

void format_access_log_line(std::string& out, const conf::AccessLog& config, const AccessLogEntry& entry,
                            int64_t now_unix_us) {
    switch (config.format) {
        case conf::AccessLogFormat::json: format_json(out, config, entry, now_unix_us); return;
        case conf::AccessLogFormat::combined: format_combined(out, entry, now_unix_us); return;
        case conf::AccessLogFormat::text_template: format_template(out, config, entry, now_unix_us); return;
        case conf::AccessLogFormat::off: return;
    }
}

}  // namespace lb

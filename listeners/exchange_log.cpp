// HttpExchange's access log line (README "Logs"): what the exchange knows
// of its request, its tries and its answer, read from its members when the
// exchange ends; nothing is built when the log is off.
#include "listeners/http_exchange.h"

namespace lb {

void HttpExchange::log() {
    if (logged_) return;
    logged_ = true;
    host_.counters().count_response(status_);
    observe();
    if (!host_.access_log().enabled()) return;
    const HttpHead& head = request_.head;
    const int64_t now = host_.now_us();
    AccessLogEntry entry;
    entry.http = true;
    entry.listener = listener_->config.name;
    // A request that never got a parsed head is logged with the peer.
    const SocketAddress& client = request_.client.valid() ? request_.client : peer_;
    std::string client_ip = client.ip_string();
    entry.client = client_ip;
    entry.client_port = client.port();
    entry.method = head.method;
    entry.host = request_.checked.host;
    entry.url = head.url;
    entry.protocol = request_.protocol.empty() ? std::string_view("HTTP/1.1") : request_.protocol;
    entry.status = status_;
    entry.bytes_in = request_body_bytes_;
    entry.bytes_out = bytes_out_;
    entry.duration_us = now - start_us_;
    entry.request_id = request_id();
    if (identity_.trace) {
        entry.trace_id = identity_.trace->trace_id_view();
        if (identity_.lb_span) entry.span_id = identity_.trace->parent_id_view();
    }
    std::string rule;
    if (action_) {
        rule = action_->rule_priority ? std::to_string(action_->rule_priority) : std::string("default");
        entry.rule = rule;
    }
    const TargetState* target = attempts_ && attempts_->target() ? attempts_->target().get() : nullptr;
    if (target) {
        entry.retries = attempts_->attempts() > 0 ? attempts_->attempts() - 1 : 0;
        entry.connect_us = connect_us_;
        if (!local_) {
            entry.target = target->key;
            entry.first_byte_us = first_byte_after_us();
            entry.upstream_us = now - try_start_us_;
        }
    }
    entry.target_group = group_ ? std::string_view(group_->config.name) : std::string_view();
    entry.user_agent = head.header("user-agent").value_or("");
    entry.referer = head.header("referer").value_or("");
    entry.error = error_;
    if (const tls::TlsSessionInfo* tls = request_.tls_info) {
        entry.tls_version = tls->version;
        entry.tls_cipher = tls->cipher;
        entry.sni = tls->server_name;
    }
    host_.access_log().record(entry);
}

}  // namespace lb

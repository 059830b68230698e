// lb YAML from the importer's model (see nginx_yaml.h).
#include "conf/nginx_yaml.h"

#include <sstream>

namespace lb::conf::nginx {

namespace {

bool plain_safe(char c, bool in_flow) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    switch (c) {
        case '_': case '.': case '/': case '-': case '+': return true;
        case ':': return !in_flow;
        default: return false;
    }
}

// A comment stays on its line: control characters quoted from nginx become '?'.
std::string comment_text(std::string text) {
    for (char& c : text)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    return text;
}

bool reserved_word(std::string_view text) {
    static constexpr std::string_view words[] = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"};
    std::string lower;
    for (char c : text) lower.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
    for (auto word : words)
        if (lower == word) return true;
    return false;
}

class Writer {
public:
    std::string text() const { return out_.str(); }

    void line(int indent, const std::string& content) { out_ << std::string(static_cast<size_t>(indent), ' ') << content << "\n"; }
    void comment(int indent, const std::string& content) {
        if (!content.empty()) line(indent, "# " + comment_text(content));
    }
    void key(int indent, const std::string& name, const std::string& value) {
        if (!value.empty()) line(indent, name + ": " + yaml_scalar(value));
    }
    void raw(int indent, const std::string& name, const std::string& value) {
        if (!value.empty()) line(indent, name + ": " + value);
    }

private:
    std::ostringstream out_;
};

std::string flow_list(const std::vector<std::string>& items) {
    std::string out = "[";
    for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + yaml_scalar(items[i], true);
    return out + "]";
}

std::string flow_map(const KeyValues& entries) {
    std::string out = "{ ";
    for (size_t i = 0; i < entries.size(); ++i)
        out += (i ? ", " : "") + yaml_scalar(entries[i].first, true) + ": " + yaml_scalar(entries[i].second, true);
    return out + " }";
}

void write_edits(Writer& w, int indent, const std::string& name, const HeaderEditsModel& edits) {
    if (edits.empty()) return;
    w.line(indent, name + ":");
    if (!edits.remove.empty()) w.line(indent + 2, "remove: " + flow_list(edits.remove));
    if (!edits.set.empty()) w.line(indent + 2, "set: " + flow_map(edits.set));
    if (!edits.add.empty()) w.line(indent + 2, "add: " + flow_map(edits.add));
}

// "action:" (or "default_action:") and its body at `indent`.
void write_action(Writer& w, int indent, const std::string& name, const ActionModel& action) {
    switch (action.kind) {
        case ActionModel::Kind::forward: {
            bool simple = action.rewrite_prefix.empty() && action.request_headers.empty() &&
                          action.response_headers.empty();
            if (simple) {
                w.line(indent, name + ": { forward: { target_group: " + yaml_scalar(action.target_group, true) + " } }");
                return;
            }
            w.line(indent, name + ":");
            w.line(indent + 2, "forward:");
            w.key(indent + 4, "target_group", action.target_group);
            if (!action.rewrite_prefix.empty())
                w.line(indent + 4, "path_rewrite: { prefix: " + yaml_scalar(action.rewrite_prefix, true) +
                                       ", replacement: " + yaml_scalar(action.rewrite_replacement, true) + " }");
            write_edits(w, indent + 4, "request_headers", action.request_headers);
            write_edits(w, indent + 4, "response_headers", action.response_headers);
            return;
        }
        case ActionModel::Kind::redirect: {
            w.line(indent, name + ":");
            w.line(indent + 2, "redirect:");
            w.key(indent + 4, "protocol", action.protocol);
            w.key(indent + 4, "host", action.host);
            w.key(indent + 4, "port", action.port);
            w.key(indent + 4, "path", action.path);
            // An empty query is a value here: it drops the request's query.
            if (action.query.empty()) w.line(indent + 4, "query: \"\"");
            else w.key(indent + 4, "query", action.query);
            w.line(indent + 4, "status: " + std::to_string(action.status));
            write_edits(w, indent + 4, "response_headers", action.response_headers);
            return;
        }
        case ActionModel::Kind::fixed_response: {
            w.line(indent, name + ":");
            w.line(indent + 2, "fixed_response:");
            w.line(indent + 4, "status: " + std::to_string(action.status));
            w.key(indent + 4, "content_type", action.content_type);
            if (!action.body.empty()) w.line(indent + 4, "body: " + yaml_scalar(action.body));
            write_edits(w, indent + 4, "response_headers", action.response_headers);
            return;
        }
    }
}

void write_listener(Writer& w, const ListenerModel& listener) {
    w.comment(2, listener.comment);
    w.line(2, "- name: " + yaml_scalar(listener.name));
    const int in = 4;
    w.key(in, "protocol", listener.protocol);
    w.key(in, "listen", listener.listen);
    w.raw(in, "idle_timeout", listener.idle_timeout);
    w.raw(in, "header_timeout", listener.header_timeout);
    w.raw(in, "tunnel_idle_timeout", listener.tunnel_idle_timeout);
    w.raw(in, "max_header_size", listener.max_header_size);
    w.raw(in, "max_body_size", listener.max_body_size);
    w.raw(in, "http2", listener.http2);
    if (!listener.max_concurrent_streams.empty())
        w.line(in, "http2_limits: { max_concurrent_streams: " + listener.max_concurrent_streams + " }");
    w.raw(in, "proxy_protocol", listener.proxy_protocol);
    if (!listener.allow.empty()) w.line(in, "allow: " + flow_list(listener.allow));
    if (!listener.trusted_proxies.empty()) w.line(in, "trusted_proxies: " + flow_list(listener.trusted_proxies));
    if (listener.accept_proxy_protocol) w.line(in, "accept_proxy_protocol: true");
    if (!listener.keepalive_idle.empty()) {
        std::string body = "idle: " + listener.keepalive_idle;
        if (!listener.keepalive_interval.empty()) body += ", interval: " + listener.keepalive_interval;
        if (!listener.keepalive_count.empty()) body += ", count: " + listener.keepalive_count;
        w.line(in, "tcp_keepalive: { " + body + " }");
    }
    if (!listener.udp_idle_timeout.empty()) w.line(in, "udp: { idle_timeout: " + listener.udp_idle_timeout + " }");
    if (!listener.certificates.empty()) {
        w.line(in, "tls:");
        w.line(in + 2, "certificates:");
        for (const auto& certificate : listener.certificates)
            w.line(in + 4, "- { cert: " + yaml_scalar(certificate.cert, true) + ", key: " +
                               yaml_scalar(certificate.key, true) + " }");
        w.key(in + 2, "policy", listener.tls_policy);
    }
    write_edits(w, in, "request_headers", listener.request_headers);
    write_edits(w, in, "response_headers", listener.response_headers);
    if (!listener.rules.empty()) {
        w.line(in, "rules:");
        int priority = 0;
        const int step = listener.rules.size() * 10 <= 50000 ? 10 : 1;
        for (const auto& rule : listener.rules) {
            priority += step;
            w.comment(in + 2, rule.comment);
            w.line(in + 2, "- priority: " + std::to_string(priority));
            std::string conditions;
            auto add = [&](const std::string& name, const std::vector<std::string>& values) {
                if (values.empty()) return;
                conditions += (conditions.empty() ? "" : ", ") + name + ": " + flow_list(values);
            };
            add("host", rule.hosts);
            add("path", rule.paths);
            add("source_ip", rule.source_ips);
            w.line(in + 4, "conditions: { " + conditions + " }");
            write_action(w, in + 4, "action", rule.action);
        }
    }
    w.comment(in, listener.default_comment);
    write_action(w, in, "default_action", listener.default_action);
}

void write_group(Writer& w, const GroupModel& group) {
    w.comment(2, group.comment);
    w.line(2, "- name: " + yaml_scalar(group.name));
    const int in = 4;
    w.key(in, "protocol", group.protocol);
    w.key(in, "algorithm", group.algorithm);
    w.key(in, "hash_key", group.hash_key);
    w.raw(in, "connect_timeout", group.connect_timeout);
    w.raw(in, "response_timeout", group.response_timeout);
    if (group.max_fails)
        w.line(in, "passive_health: { max_fails: " + std::to_string(*group.max_fails) +
                       (group.fail_timeout.empty() ? "" : ", fail_timeout: " + group.fail_timeout) + " }");
    if (group.retry_on) w.line(in, "retry_on: " + flow_list(*group.retry_on));
    w.raw(in, "retry_tries", group.retry_tries);
    w.raw(in, "retry_timeout", group.retry_timeout);
    if (group.retry_non_idempotent) w.line(in, "retry_non_idempotent: true");
    if (group.tls_verify || !group.ca_file.empty() || !group.server_name.empty()) {
        std::string body;
        if (group.tls_verify) body += std::string("verify: ") + (*group.tls_verify ? "true" : "false");
        if (!group.ca_file.empty()) body += (body.empty() ? "" : ", ") + std::string("ca_file: ") + yaml_scalar(group.ca_file, true);
        if (!group.server_name.empty())
            body += (body.empty() ? "" : ", ") + std::string("server_name: ") + yaml_scalar(group.server_name, true);
        w.line(in, "tls: { " + body + " }");
    }
    if (group.targets.empty()) {
        w.line(in, "targets: []");
        return;
    }
    w.line(in, "targets:");
    for (const auto& target : group.targets) {
        std::string body = "address: " + yaml_scalar(target.address, true) + ", port: " + std::to_string(target.port);
        if (target.weight != 1) body += ", weight: " + std::to_string(target.weight);
        if (target.backup) body += ", backup: true";
        std::string text = "- { " + body + " }";
        if (!target.comment.empty()) text += "   # " + comment_text(target.comment);
        w.line(in + 2, text);
    }
}

}  // namespace

std::string yaml_scalar(std::string_view text, bool in_flow) {
    bool plain = !text.empty() && !reserved_word(text) && text.front() != '-' && text.front() != ':' &&
                 text.front() != '.';
    for (char c : text)
        if (!plain_safe(c, in_flow)) plain = false;
    if (plain) return std::string(text);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = "\"";
    for (char c : text) {
        auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(c);
        } else if (byte < 0x20 || byte == 0x7f) {
            out += "\\x";
            out.push_back(kHex[byte >> 4]);
            out.push_back(kHex[byte & 0xf]);
        } else {
            out.push_back(c);
        }
    }
    return out + "\"";
}

std::string write_yaml(const ConfigModel& config) {
    Writer w;
    w.comment(0, "lb configuration written by `lb import-nginx " + config.source + "`.");
    w.comment(0, "Check it with `lb -t -c FILE`; the report on stderr lists what was approximated or left out.");
    const GlobalModel& global = config.global;
    bool any_global = !global.workers.empty() || !global.shutdown_timeout.empty() ||
                      !global.access_log_path.empty() || global.admin_disabled || !global.nameservers.empty();
    if (any_global) {
        w.line(0, "global:");
        w.raw(2, "workers", global.workers);
        w.raw(2, "shutdown_timeout", global.shutdown_timeout);
        if (!global.access_log_path.empty())
            w.line(2, "access_log: { path: " + yaml_scalar(global.access_log_path, true) +
                          ", format: " + global.access_log_format + " }");
        if (global.admin_disabled) w.line(2, "admin: { enabled: false }");
        if (!global.nameservers.empty()) w.line(2, "resolver: { nameservers: " + flow_list(global.nameservers) + " }");
    }
    w.line(0, "listeners:");
    for (const auto& listener : config.listeners) write_listener(w, listener);
    if (!config.groups.empty()) {
        w.line(0, "target_groups:");
        for (const auto& group : config.groups) write_group(w, group);
    }
    return w.text();
}

}  // namespace lb::conf::nginx

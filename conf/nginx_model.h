// What `lb import-nginx` builds from an nginx configuration before writing
// it out as lb YAML (conf/nginx_yaml.h): lb's schema (README,
// "Configuration") as plain strings, so that every value is written exactly
// as the importer chose it, with a comment saying where in nginx it came
// from. Only keys the importer sets are written; empty strings and empty
// optionals are left out, so lb's defaults apply.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace lb::conf::nginx {

using KeyValues = std::vector<std::pair<std::string, std::string>>;

struct HeaderEditsModel {
    KeyValues set;
    KeyValues add;
    std::vector<std::string> remove;
    bool empty() const { return set.empty() && add.empty() && remove.empty(); }
    bool operator==(const HeaderEditsModel&) const = default;
};

struct ActionModel {
    enum class Kind { forward, redirect, fixed_response };
    Kind kind = Kind::forward;
    // forward
    std::string target_group;
    std::string rewrite_prefix;          // path_rewrite, when not empty
    std::string rewrite_replacement;
    HeaderEditsModel request_headers;
    HeaderEditsModel response_headers;
    // redirect: fields left empty keep the request's own value
    std::string protocol, host, port, path, query;
    int status = 0;                      // redirect or fixed_response
    // fixed_response
    std::string content_type;
    std::string body;
    bool operator==(const ActionModel&) const = default;
};

struct RuleModel {
    const void* source = nullptr;        // the nginx directive it came from (for the report)
    std::vector<std::string> hosts;
    std::vector<std::string> paths;
    std::vector<std::string> source_ips;
    ActionModel action;
    std::string comment;                 // "from nginx.conf:12" and the like
};

struct CertificateModel {
    std::string cert;
    std::string key;
    bool operator==(const CertificateModel&) const = default;
};

struct ListenerModel {
    std::string name;
    std::string protocol;                // http | https | tcp | tls_passthrough | udp
    std::string listen;
    std::string comment;
    // Written when set; the value as it goes into the YAML.
    std::string idle_timeout, header_timeout, tunnel_idle_timeout, max_header_size, max_body_size;
    std::string http2;                   // "true", "false", "prior_knowledge"
    std::string max_concurrent_streams;  // http2_limits
    std::string proxy_protocol;          // v1
    bool accept_proxy_protocol = false;
    std::vector<std::string> trusted_proxies;
    std::vector<std::string> allow;
    std::string keepalive_idle, keepalive_interval, keepalive_count;
    std::string udp_idle_timeout;
    std::vector<CertificateModel> certificates;
    std::string tls_policy;
    HeaderEditsModel request_headers;
    HeaderEditsModel response_headers;
    std::vector<RuleModel> rules;
    ActionModel default_action;
    std::string default_comment;
};

struct TargetModel {
    std::string address;
    int port = 0;
    int weight = 1;
    bool backup = false;
    std::string comment;
};

struct GroupModel {
    std::string name;
    std::string protocol;                // http | https | tcp | udp
    std::string comment;
    std::string algorithm;               // empty = round_robin
    std::string hash_key;
    std::string connect_timeout, response_timeout;
    std::optional<int> max_fails;        // passive_health
    std::string fail_timeout;
    std::optional<std::vector<std::string>> retry_on;
    std::string retry_tries, retry_timeout;
    bool retry_non_idempotent = false;
    // protocol https
    std::optional<bool> tls_verify;
    std::string ca_file, server_name;
    std::vector<TargetModel> targets;
};

struct GlobalModel {
    std::string workers;
    std::string shutdown_timeout;
    std::string access_log_path, access_log_format;
    bool admin_disabled = false;
    std::vector<std::string> nameservers;
};

struct ConfigModel {
    std::string source;                  // the nginx file it came from
    GlobalModel global;
    std::vector<ListenerModel> listeners;
    std::vector<GroupModel> groups;
};

}  // namespace lb::conf::nginx

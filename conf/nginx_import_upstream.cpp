// proxy_pass targets and upstream blocks as lb target groups. A group is
// made when a proxy_pass first names it (one per upstream and scheme, or
// per address for a proxy_pass without an upstream), with the settings of
// that location: nginx's defaults are written out where lb's differ
// (proxy_connect_timeout 60s, proxy_next_upstream "error timeout",
// max_fails=1 fail_timeout=10s, proxy_ssl_verify off). A later proxy_pass
// to the same group with other settings is reported: lb has one value per
// group (the longest timeout is kept).
#include <algorithm>
#include <cctype>
#include <map>

#include "conf/nginx_importer.h"
#include "conf/nginx_patterns.h"
#include "conf/patterns.h"
#include "conf/units.h"
#include "lb/base/net_address.h"

namespace lb::conf::nginx {

namespace {

std::string ms_text(int64_t ms) { return format_duration(Duration(ms)); }

// "host", "host:port", "[v6]", "[v6]:port". False when the port is bad.
bool split_host_port(const std::string& text, std::string& host, int& port) {
    port = 0;
    if (!text.empty() && text.front() == '[') {
        size_t close = text.find(']');
        if (close == std::string::npos) return false;
        host = text.substr(1, close - 1);
        if (close + 1 == text.size()) return true;
        if (text[close + 1] != ':') return false;
        uint16_t p = 0;
        if (!parse_port(text.substr(close + 2), p) || p == 0) return false;
        port = p;
        return true;
    }
    size_t colon = text.rfind(':');
    if (colon == std::string::npos || text.find(':') != colon) {
        host = text;
        return colon == std::string::npos;
    }
    host = text.substr(0, colon);
    uint16_t p = 0;
    if (!parse_port(text.substr(colon + 1), p) || p == 0) return false;
    port = p;
    return true;
}

// Why `host` cannot be an lb target address, or "".
std::string target_problem(const std::string& host) {
    if (auto ip = SocketAddress::from_ip(host, 1)) {
        const char* why = ip->unusable_as_target();
        return why ? why : "";
    }
    if (auto why = check_dns_name(host)) return "'" + host + "' " + *why;
    return "";
}

struct Settings {
    std::string connect_timeout, response_timeout;
    std::vector<std::string> retry_on;
    std::string retry_tries, retry_timeout;
    bool non_idempotent = false;
};

}  // namespace

ProxyTarget parse_proxy_pass(const std::string& text, bool stream) {
    ProxyTarget out;
    if (text.find('$') != std::string::npos) {
        out.error = "proxy_pass with variables cannot be mapped";
        return out;
    }
    std::string rest = text;
    if (!stream) {
        for (const char* scheme : {"http://", "https://"}) {
            if (rest.rfind(scheme, 0) == 0) {
                out.scheme = std::string(scheme).substr(0, std::string(scheme).find(':'));
                rest = rest.substr(std::string(scheme).size());
            }
        }
        if (out.scheme.empty()) {
            out.error = "lb forwards to http:// and https:// targets only";
            return out;
        }
        size_t slash = rest.find('/');
        if (slash != std::string::npos) {
            out.uri = rest.substr(slash);
            rest = rest.substr(0, slash);
        }
    }
    if (rest.rfind("unix:", 0) == 0) {
        out.error = "lb does not connect to unix sockets";
        return out;
    }
    if (!split_host_port(rest, out.host, out.port) || out.host.empty()) out.error = "cannot read the address '" + rest + "'";
    return out;
}

GroupModel Importer::make_group(const std::string& name, const std::string& protocol, const NginxDirective* upstream,
                                const std::string& host, int port, bool stream) {
    GroupModel group;
    group.name = name;
    group.protocol = protocol;
    if (!upstream) {
        if (std::string why = target_problem(host); !why.empty()) return group;  // reported by the caller
        group.targets.push_back(TargetModel{host, port, 1, false, ""});
        return group;
    }
    group.comment = "upstream " + upstream->args[0] + " (" + upstream->where() + ")";
    report_unmapped(*upstream, stream ? Context::stream_upstream : Context::upstream, report_);
    std::map<std::pair<int, int64_t>, int> passive_counts;  // (max_fails, fail_timeout ms) -> servers
    std::vector<std::pair<const NginxDirective*, std::pair<int, int64_t>>> passive_of;
    for (const NginxDirective* server : upstream->children("server")) {
        if (server->args.empty()) continue;
        std::string address;
        int server_port = 0;
        if (server->args[0].rfind("unix:", 0) == 0) {
            report_.unsupported(*server, "lb does not connect to unix sockets; the server was left out");
            continue;
        }
        if (!split_host_port(server->args[0], address, server_port)) {
            report_.unsupported(*server, "cannot read the address; the server was left out");
            continue;
        }
        if (server_port == 0) {
            if (stream) {
                report_.unsupported(*server, "a stream upstream server needs a port; the server was left out");
                continue;
            }
            server_port = 80;
        }
        if (std::string why = target_problem(address); !why.empty()) {
            report_.unsupported(*server, why + "; the server was left out");
            continue;
        }
        TargetModel target{address, server_port, 1, false, server->where()};
        int max_fails = 1;
        int64_t fail_timeout = 10000;
        bool down = false;
        for (size_t i = 1; i < server->args.size(); ++i) {
            const std::string& param = server->args[i];
            std::string key = param.substr(0, param.find('='));
            std::string value = param.find('=') == std::string::npos ? "" : param.substr(param.find('=') + 1);
            if (key == "weight") {
                int weight = value.size() > 0 && value.size() < 7 && value.find_first_not_of("0123456789") == std::string::npos
                                 ? std::stoi(value) : 1;
                if (weight > 1000) {
                    report_.approximated(*server, "lb weights go up to 1000; weight=" + value + " became 1000");
                    weight = 1000;
                }
                target.weight = std::max(weight, 1);
            } else if (key == "max_fails") {
                max_fails = value.size() > 0 && value.size() < 7 && value.find_first_not_of("0123456789") == std::string::npos
                                ? std::stoi(value) : 1;
            } else if (key == "fail_timeout") {
                if (auto ms = parse_nginx_duration(value)) fail_timeout = *ms;
            } else if (key == "backup") {
                target.backup = true;
            } else if (key == "down") {
                down = true;
            } else if (key == "resolve") {
                report_.ignored(*server, "lb follows DNS names by itself (see Targets by DNS name)");
            } else {
                report_.unsupported(*server, "the parameter '" + key + "' has no lb counterpart; it was left out");
            }
        }
        if (down) {
            report_.ignored(*server, "a down server takes no traffic; it was left out");
            continue;
        }
        passive_counts[{max_fails, fail_timeout}]++;
        passive_of.push_back({server, {max_fails, fail_timeout}});
        // lb lists an address once: nginx's repeats become one target with the weights added.
        auto same = [&](const TargetModel& other) {
            if (other.port != target.port) return false;
            auto a = SocketAddress::from_ip(other.address, 1), b = SocketAddress::from_ip(target.address, 1);
            if (a && b) return *a == *b;
            std::string x = other.address, y = target.address;
            std::transform(x.begin(), x.end(), x.begin(), [](unsigned char c) { return std::tolower(c); });
            std::transform(y.begin(), y.end(), y.begin(), [](unsigned char c) { return std::tolower(c); });
            return !a && !b && x == y;
        };
        auto earlier = std::find_if(group.targets.begin(), group.targets.end(), same);
        if (earlier != group.targets.end()) {
            earlier->weight = std::min(earlier->weight + target.weight, 1000);
            earlier->backup = earlier->backup && target.backup;
            report_.approximated(*server, "the same address twice: lb has one target with the weights added");
            continue;
        }
        group.targets.push_back(std::move(target));
    }
    // nginx ignores max_fails when an upstream has one server.
    if (group.targets.size() > 1 && !passive_counts.empty()) {
        auto best = passive_counts.begin();
        for (auto it = passive_counts.begin(); it != passive_counts.end(); ++it)
            if (it->second > best->second) best = it;
        auto [max_fails, fail_timeout] = best->first;
        if (max_fails > 100) max_fails = 100;
        if (max_fails > 0) {
            group.max_fails = max_fails;
            group.fail_timeout = ms_text(std::clamp<int64_t>(fail_timeout, 1000, 3600000));
        }
        for (const auto& [server, value] : passive_of)
            if (value != best->first)
                report_.approximated(*server, "lb counts failures per group: passive_health uses max_fails=" +
                                                  std::to_string(best->first.first) + " fail_timeout=" +
                                                  ms_text(best->first.second) + " for every target");
    }
    // The balancing method. Given twice, nginx warns "load balancing method
    // redefined" and keeps the last: so does this, from a clean slate (a
    // hash key left by an earlier one would make a config lb refuses).
    const NginxDirective* method = nullptr;
    for (const NginxDirective& directive : upstream->block) {
        const std::string& name = directive.name;
        if (name != "ip_hash" && name != "least_conn" && name != "random" && name != "hash") continue;
        if (method)
            report_.approximated(directive, "a second balancing method (the first, '" + method->name + "' at line " +
                                                std::to_string(method->line) + ", is dropped): nginx keeps the last");
        method = &directive;
        group.algorithm.clear();
        group.hash_key.clear();
        if (directive.name == "ip_hash") {
            group.algorithm = "hash";
            group.hash_key = "client_ip/24";
        } else if (directive.name == "least_conn") {
            group.algorithm = "least_connections";
        } else if (directive.name == "random") {
            group.algorithm = "weighted_random";
            if (!directive.args.empty())
                report_.approximated(directive, "lb picks at random by weight, not the best of two");
        } else if (directive.name == "hash") {
            std::string key = directive.args.empty() ? "" : directive.args[0];
            bool consistent = directive.args.size() == 2 && directive.args[1] == "consistent";
            auto strip = [&](const char* prefix) { return key.substr(std::string(prefix).size()); };
            if (key == "$remote_addr" || key == "$binary_remote_addr") {
                if (stream) group.algorithm = "source_ip_hash";
                else group.hash_key = "client_ip";
            } else if (!stream && (key.rfind("$cookie_", 0) == 0 || key.rfind("$arg_", 0) == 0 ||
                                   key.rfind("$http_", 0) == 0) &&
                       !is_token(key.substr(key.find('_') + 1))) {
                report_.unsupported(directive, "'" + key + "' does not name a header, cookie or query key lb reads; "
                                               "the group is balanced round robin");
                continue;
            } else if (!stream && key.rfind("$cookie_", 0) == 0) {
                group.hash_key = "cookie:" + strip("$cookie_");
            } else if (!stream && key.rfind("$arg_", 0) == 0) {
                group.hash_key = "query:" + strip("$arg_");
            } else if (!stream && key.rfind("$http_", 0) == 0) {
                std::string name = strip("$http_");
                std::replace(name.begin(), name.end(), '_', '-');
                group.hash_key = "header:" + name;
            } else {
                report_.unsupported(directive, "lb hashes a client address, a header, a cookie or a query "
                                               "parameter, not '" + key + "'; the group is balanced round robin");
                continue;
            }
            if (!group.hash_key.empty()) group.algorithm = "hash";
            if (!consistent)
                report_.approximated(directive, "lb's hash is consistent (Maglev), like 'hash ... consistent': "
                                                "adding or removing a target moves few keys");
        }
    }
    return group;
}

std::string Importer::http_group(const NginxDirective& proxy_pass, const ProxyTarget& target, const Scope& scope) {
    const NginxDirective* upstream = nullptr;
    if (target.port == 0) {
        auto found = http_upstreams_.find(target.host);
        if (found != http_upstreams_.end()) upstream = found->second;
    }
    int port = target.port ? target.port : target.scheme == "https" ? 443 : 80;
    std::string key = (upstream ? "u:" + target.host : "a:" + target.host + ":" + std::to_string(port)) + "|" +
                      target.scheme;
    auto known = group_keys_.find(key);
    if (known != group_keys_.end()) {
        for (auto& group : model_.groups)
            if (group.name == known->second) apply_http_settings(group, proxy_pass, scope, false);
        return known->second;
    }
    if (!upstream) {
        if (std::string why = target_problem(target.host); !why.empty()) {
            report_.unsupported(proxy_pass, why + "; the location answers 500");
            return "";
        }
    }
    std::string base = upstream ? target.host : target.host + "-" + std::to_string(port);
    if (target.scheme == "https" && upstream) {
        for (const auto& [other_key, other_name] : group_keys_)
            if (other_key == "u:" + target.host + "|http") base += "-https";
    }
    GroupModel group = make_group(unique_group_name(base), target.scheme, upstream, target.host, port, false);
    if (!upstream) group.comment = "proxy_pass " + proxy_pass.args[0] + " (" + proxy_pass.where() + ")";
    if (upstream) used_upstreams_.push_back(upstream);
    if (target.scheme == "https") group.tls_verify = false;  // nginx: proxy_ssl_verify off
    group_keys_[key] = group.name;
    group_first_use_[group.name] = &proxy_pass;
    model_.groups.push_back(std::move(group));
    GroupModel& made = model_.groups.back();
    apply_http_settings(made, proxy_pass, scope, true);
    if (made.tls_verify == std::optional<bool>(false))
        made.comment += (made.comment.empty() ? "" : "; ") + std::string("nginx does not verify https targets by default");
    return made.name;
}

void Importer::apply_http_settings(GroupModel& group, const NginxDirective& proxy_pass, const Scope& scope,
                                   bool first) {
    Settings s;
    const NginxDirective* connect = scope.last("proxy_connect_timeout");
    int64_t connect_ms = 60000;
    if (connect) connect_ms = duration_arg(*connect).value_or(60000);
    s.connect_timeout = ms_text(std::clamp<int64_t>(connect_ms, 1, 75000));
    if (connect_ms > 75000)
        report_.approximated(*connect, "nginx caps proxy_connect_timeout at 75s; lb uses 1m15s");
    const NginxDirective* read = scope.last("proxy_read_timeout");
    int64_t read_ms = read ? duration_arg(*read).value_or(60000) : 60000;
    read_ms = std::max<int64_t>(read_ms, 1);
    if (read_ms != 60000) s.response_timeout = ms_text(read_ms);

    const NginxDirective* next = scope.last("proxy_next_upstream");
    s.retry_on = {"connect_failure", "timeout"};
    if (next) {
        s.retry_on.clear();
        auto retry = [&](const std::string& on) {
            if (std::find(s.retry_on.begin(), s.retry_on.end(), on) == s.retry_on.end()) s.retry_on.push_back(on);
        };
        auto status = [](const std::string& value) {
            if (value.rfind("http_", 0) != 0) return false;
            std::string code = value.substr(5);
            return code.size() == 3 && code.find_first_not_of("0123456789") == std::string::npos &&
                   code >= "400" && code <= "599";
        };
        for (const auto& value : next->args) {
            if (value == "error") retry("connect_failure");
            else if (value == "timeout") retry("timeout");
            else if (value == "non_idempotent") s.non_idempotent = true;
            else if (value == "off") s.retry_on.clear();
            else if (status(value)) retry(value.substr(5));
            else if (value == "invalid_header")
                report_.approximated(*next, "lb does not retry a target that answered something that is not HTTP "
                                            "(the client gets 502)");
            else report_.unsupported(*next, "'" + value + "' has no lb counterpart");
        }
    }
    int64_t tries = 0;
    if (const NginxDirective* t = scope.last("proxy_next_upstream_tries"); t && t->args.size() == 1 &&
        t->args[0].size() < 6 && t->args[0].find_first_not_of("0123456789") == std::string::npos)
        tries = std::stoll(t->args[0]);
    // 0 = nginx's default: every server once.
    int64_t effective = tries == 0 ? static_cast<int64_t>(group.targets.size()) : tries;
    if (effective > 10) {
        if (const NginxDirective* t = scope.last("proxy_next_upstream_tries"))
            report_.approximated(*t, "lb makes at most 10 tries");
        effective = 10;
    }
    if (effective > 3 || (tries != 0 && effective != 3)) s.retry_tries = std::to_string(std::max<int64_t>(effective, 1));
    if (const NginxDirective* t = scope.last("proxy_next_upstream_timeout")) {
        if (auto ms = duration_arg(*t); ms && *ms > 0) {
            if (*ms > 3600000) report_.approximated(*t, "lb's retry_timeout is at most 1h");
            s.retry_timeout = ms_text(std::min<int64_t>(*ms, 3600000));
        }
    }

    if (first) {
        group.connect_timeout = s.connect_timeout;
        group.response_timeout = s.response_timeout;
        group.retry_on = s.retry_on;
        group.retry_tries = s.retry_tries;
        group.retry_timeout = s.retry_timeout;
        group.retry_non_idempotent = s.non_idempotent;
        if (group.protocol == "https") {
            if (const NginxDirective* verify = scope.last("proxy_ssl_verify"))
                group.tls_verify = verify->args.size() == 1 && verify->args[0] == "on";
            if (const NginxDirective* ca = scope.last("proxy_ssl_trusted_certificate"); ca && ca->args.size() == 1)
                group.ca_file = absolute(ca->args[0]);
            const NginxDirective* sni = scope.last("proxy_ssl_server_name");
            const NginxDirective* name = scope.last("proxy_ssl_name");
            if (sni && sni->args.size() == 1 && sni->args[0] == "on") {
                std::string host = name && name->args.size() == 1 ? name->args[0] : "";
                if (host.empty() || host == "$proxy_host") host = proxy_pass.args[0];
                if (auto target = parse_proxy_pass(host.find("://") == std::string::npos ? "https://" + host : host, false);
                    target.error.empty())
                    host = target.host;
                if (!check_host_name(host) && !SocketAddress::from_ip(host, 1)) group.server_name = host;
                else report_.approximated(*sni, "lb sends SNI only for a DNS name; '" + host + "' is not one");
            } else if (name) {
                report_.ignored(*name, "nginx sends no SNI without proxy_ssl_server_name on");
            }
        }
        return;
    }
    const NginxDirective* at_first = group_first_use_[group.name];
    std::string shared = "target group " + group.name + " is also used at " + (at_first ? at_first->where() : "?");
    auto longer = [&](std::string& current, const std::string& candidate, const NginxDirective* where,
                      const char* what) {
        if (current == candidate) return;
        auto a = parse_duration(current.empty() ? "1m" : current);
        auto b = parse_duration(candidate.empty() ? "1m" : candidate);
        if (a && b && *b > *a) current = candidate;
        report_.approximated(where ? *where : proxy_pass,
                             shared + " with another " + what + "; lb has one per group and keeps the longest (" +
                                 (current.empty() ? "1m" : current) + ")");
    };
    longer(group.connect_timeout, s.connect_timeout, connect, "proxy_connect_timeout");
    longer(group.response_timeout, s.response_timeout, read, "proxy_read_timeout");
    if (group.retry_on != s.retry_on || group.retry_tries != s.retry_tries || group.retry_timeout != s.retry_timeout ||
        group.retry_non_idempotent != s.non_idempotent)
        report_.approximated(next ? *next : proxy_pass,
                             shared + " with other proxy_next_upstream settings; lb has one per group and keeps the "
                                      "first");
}

std::string Importer::stream_group(const NginxDirective& at, const std::string& host, int port, bool udp,
                                   const Scope& scope) {
    const NginxDirective* upstream = nullptr;
    if (port == 0) {
        auto found = stream_upstreams_.find(host);
        if (found == stream_upstreams_.end()) {
            report_.unsupported(at, "no upstream named '" + host + "' and no port; left out");
            return "";
        }
        upstream = found->second;
    }
    std::string protocol = udp ? "udp" : "tcp";
    std::string key = "s:" + protocol + ":" + (upstream ? "u:" + host : "a:" + host + ":" + std::to_string(port));
    if (auto known = group_keys_.find(key); known != group_keys_.end()) return known->second;
    if (!upstream) {
        if (std::string why = target_problem(host); !why.empty()) {
            report_.unsupported(at, why + "; left out");
            return "";
        }
    }
    std::string base = safe_name(upstream ? host : host + "-" + std::to_string(port));
    if (unique_group_name(base) != base) base += "-" + protocol;
    GroupModel group = make_group(unique_group_name(base), protocol, upstream, host, port, true);
    if (!upstream) group.comment = "proxy_pass " + host + ":" + std::to_string(port) + " (" + at.where() + ")";
    if (!udp) {
        const NginxDirective* connect = scope.last("proxy_connect_timeout");
        int64_t ms = connect ? duration_arg(*connect).value_or(60000) : 60000;
        group.connect_timeout = ms_text(std::max<int64_t>(ms, 1));
        if (const NginxDirective* next = scope.last("proxy_next_upstream"); next && next->args == std::vector<std::string>{"off"})
            group.retry_tries = "1";
        else if (const NginxDirective* t = scope.last("proxy_next_upstream_tries"); t && t->args.size() == 1 &&
                 t->args[0] != "0" && t->args[0].size() < 6 && t->args[0].find_first_not_of("0123456789") == std::string::npos)
            group.retry_tries = std::to_string(std::min(std::stoi(t->args[0]), 10));
        else if (group.targets.size() > 3)
            group.retry_tries = std::to_string(std::min<size_t>(group.targets.size(), 10));
    }
    group_keys_[key] = group.name;
    group_first_use_[group.name] = &at;
    if (upstream) used_upstreams_.push_back(upstream);
    model_.groups.push_back(std::move(group));
    return model_.groups.back().name;
}

}  // namespace lb::conf::nginx

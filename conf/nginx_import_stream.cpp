// The stream block: each server's listen sockets as tcp or udp listeners;
// a server with ssl_preread whose proxy_pass is a variable that a map of
// $ssl_preread_server_name sets becomes a tls_passthrough listener with a
// host rule per map entry (exact names first, then wildcards by length, as
// a map with `hostnames` picks) and the map's default as the default
// action.
#include <algorithm>

#include "conf/nginx_importer.h"
#include "conf/nginx_patterns.h"
#include "conf/patterns.h"
#include "conf/units.h"
#include "lb/base/net_address.h"

namespace lb::conf::nginx {

namespace {

struct MapEntry {
    std::string host;
    std::string value;
    int rank = 0;        // 0 exact, 1 leading wildcard, 2 trailing wildcard
    size_t length = 0;
    const NginxDirective* at = nullptr;
};

std::string port_of(const std::string& listen) { return listen.substr(listen.rfind(':') + 1); }

}  // namespace

void Importer::stream(const NginxDirective& block) {
    report_unmapped(block, Context::stream, report_);
    Scope stream_scope = Scope().inner(block);
    for (const NginxDirective& directive : block.block) {
        if (directive.name == "upstream" && directive.args.size() == 1) {
            if (stream_upstreams_.count(directive.args[0])) report_.unsupported(directive, "a second upstream of that name");
            else stream_upstreams_[directive.args[0]] = &directive;
        } else if (directive.name == "map" && directive.args.size() == 2) {
            stream_maps_[directive.args[1]] = &directive;
        } else if (directive.name == "access_log" || directive.name == "log_format") {
            report_.ignored(directive, "lb's access log is global.access_log; tcp and udp get a line per connection or flow");
        } else if (directive.name == "resolver") {
            report_.ignored(directive, "lb's resolver is global.resolver (default /etc/resolv.conf)");
        }
    }
    std::vector<const NginxDirective*> used_maps;

    for (const NginxDirective* server : block.children("server")) {
        report_unmapped(*server, Context::stream_server, report_);
        Scope scope = stream_scope.inner(*server);
        const NginxDirective* proxy_pass = server->child("proxy_pass");
        if (!proxy_pass || proxy_pass->args.size() != 1) {
            report_.unsupported(*server, "a stream server without proxy_pass has nothing lb can do; left out");
            continue;
        }
        const NginxDirective* preread = scope.last("ssl_preread");
        bool preread_on = preread && preread->args == std::vector<std::string>{"on"};
        const std::string& pass = proxy_pass->args[0];
        const NginxDirective* map = nullptr;
        if (pass.rfind("$", 0) == 0) {
            auto found = stream_maps_.find(pass);
            if (found == stream_maps_.end() || found->second->args[0] != "$ssl_preread_server_name" || !preread_on) {
                report_.unsupported(*proxy_pass, "lb maps only a variable set by a map of $ssl_preread_server_name "
                                                 "(with ssl_preread on); the server was left out");
                continue;
            }
            map = found->second;
            used_maps.push_back(map);
        } else if (preread_on) {
            report_.ignored(*preread, "proxy_pass does not depend on the SNI name");
        }

        for (const NginxDirective* listen : server->children("listen")) {
            if (listen->args.empty()) continue;
            std::string why;
            auto address = nginx_listen_address(listen->args[0], why);
            if (!address) {
                report_.unsupported(*listen, why + "; '" + listen->args[0] + "' was left out");
                continue;
            }
            bool udp = false, accept_proxy = false, ssl = false;
            for (size_t i = 1; i < listen->args.size(); ++i) {
                const std::string& param = listen->args[i];
                if (param == "udp") udp = true;
                else if (param == "proxy_protocol") accept_proxy = true;
                else if (param == "ssl") ssl = true;
                else if (param == "reuseport" || param == "ipv6only=on") report_.ignored(*listen);
                else if (param.rfind("backlog=", 0) == 0 || param.rfind("rcvbuf=", 0) == 0 || param.rfind("sndbuf=", 0) == 0 ||
                         param.rfind("so_keepalive=", 0) == 0 || param == "bind" || param == "fastopen")
                    report_.ignored(*listen, "lb sets its own socket options ('" + param + "' left out)");
                else report_.unsupported(*listen, "the parameter '" + param + "' has no lb counterpart; left out");
            }
            if (ssl) {
                report_.unsupported(*listen, "lb does not terminate TLS for TCP; pass it through (tls_passthrough) "
                                             "or terminate HTTPS on an https listener; left out");
                continue;
            }
            if (udp && map) {
                report_.unsupported(*listen, "SNI routing needs TCP; left out");
                continue;
            }
            if (!claim_listen(*address, udp, *listen)) continue;
            ListenerModel listener;
            listener.protocol = map ? "tls_passthrough" : udp ? "udp" : "tcp";
            listener.listen = *address;
            std::string host = address->substr(0, address->rfind(':'));
            std::string base = (map ? std::string("tls") : listener.protocol) + "-" + port_of(*address);
            if (host == "[::]") base += "-ipv6";
            else if (host != "0.0.0.0") base = (map ? std::string("tls") : listener.protocol) + "-" + host + "-" + port_of(*address);
            listener.name = unique_listener_name(base);
            listener.comment = "stream server at " + server->where() + ", listen " + listen->args[0];

            const NginxDirective* timeout = scope.last("proxy_timeout");
            int64_t idle = timeout ? duration_arg(*timeout).value_or(600000) : 600000;  // nginx: 10m
            idle = std::max<int64_t>(idle, 1);
            if (udp) listener.udp_idle_timeout = format_duration(Duration(idle));
            else listener.idle_timeout = format_duration(Duration(idle));
            if (map) {
                if (const NginxDirective* preread_timeout = scope.last("preread_timeout"))
                    if (auto ms = duration_arg(*preread_timeout))
                        listener.header_timeout = format_duration(Duration(std::max<int64_t>(*ms, 1)));
            }
            if (const NginxDirective* send = scope.last("proxy_protocol"); send && send->args == std::vector<std::string>{"on"}) {
                if (udp) report_.unsupported(*send, "lb sends PROXY headers on tcp and tls_passthrough listeners only");
                else listener.proxy_protocol = "v1";
            }
            if (accept_proxy) {
                if (udp) {
                    report_.unsupported(*listen, "lb reads PROXY headers on stream listeners only, not udp");
                } else {
                    listener.accept_proxy_protocol = true;
                    for (const NginxDirective* from : scope.all("set_real_ip_from"))
                        for (const auto& arg : from->args)
                            if (Cidr::parse(arg)) listener.trusted_proxies.push_back(arg);
                    if (listener.trusted_proxies.empty()) listener.trusted_proxies = {"0.0.0.0/0", "::/0"};
                }
            }
            // allow/deny: an allow list ending in "deny all" is lb's allow.
            auto access = scope.all({"allow", "deny"});
            if (!access.empty()) {
                bool allow_list = access.back()->name == "deny" && access.back()->args == std::vector<std::string>{"all"};
                std::vector<std::string> allowed;
                for (size_t i = 0; i + 1 < access.size() && allow_list; ++i) {
                    if (access[i]->name != "allow" || access[i]->args.size() != 1 || !Cidr::parse(access[i]->args[0]))
                        allow_list = false;
                    else
                        allowed.push_back(access[i]->args[0]);
                }
                if (allow_list && !allowed.empty()) {
                    if (udp) report_.approximated(*access.front(), "lb drops datagrams from other sources");
                    listener.allow = allowed;
                } else {
                    report_.unsupported(*access.front(), "lb's allow takes a list of sources to accept (allow ...; "
                                                         "deny all;); this list was left out");
                }
            }

            if (!map) {
                auto target = parse_proxy_pass(pass, true);
                if (!target.error.empty()) {
                    report_.unsupported(*proxy_pass, target.error + "; left out");
                    continue;
                }
                std::string group = stream_group(*proxy_pass, target.host, target.port, udp, scope);
                if (group.empty()) continue;
                listener.default_action.target_group = group;
                model_.listeners.push_back(std::move(listener));
                continue;
            }

            // SNI routing from the map.
            std::vector<MapEntry> entries;
            std::string default_value;
            bool hostnames = false;
            for (const NginxDirective& entry : map->block) {
                if (entry.name == "hostnames" && entry.args.empty()) hostnames = true;
            }
            for (const NginxDirective& entry : map->block) {
                if (entry.name == "hostnames" || entry.name == "volatile") continue;
                if (entry.args.size() != 1) {
                    report_.unsupported(entry, "expected a name and a value; left out");
                    continue;
                }
                const std::string& key = entry.name;
                const std::string& value = entry.args[0];
                if (key == "default") {
                    default_value = value;
                    continue;
                }
                if (key.empty()) {
                    report_.approximated(entry, "clients without SNI take the default action in lb");
                    continue;
                }
                if (key.front() == '~' || key.front() == '\\') {
                    report_.unsupported(entry, "lb's host conditions are wildcards, not regexes; left out");
                    continue;
                }
                if (auto why = check_host_pattern(key.front() == '.' ? key.substr(1) : key)) {
                    report_.unsupported(entry, "'" + key + "' is not a host name lb matches (" + *why + "); left out");
                    continue;
                }
                MapEntry out{key, value, 0, key.size(), &entry};
                if (hostnames && key.front() == '.') {
                    entries.push_back(MapEntry{key.substr(1), value, 0, key.size() - 1, &entry});
                    out = MapEntry{"*" + key, value, 1, key.size(), &entry};
                } else if (hostnames && key.rfind("*.", 0) == 0) {
                    out.rank = 1;
                    out.length = key.size() - 1;
                } else if (hostnames && key.size() > 2 && key.compare(key.size() - 2, 2, ".*") == 0) {
                    out.rank = 2;
                    out.length = key.size() - 1;
                } else if (key.find('*') != std::string::npos) {
                    report_.unsupported(entry, "a wildcard needs the map's 'hostnames'; left out");
                    continue;
                }
                entries.push_back(out);
            }
            std::stable_sort(entries.begin(), entries.end(), [](const MapEntry& a, const MapEntry& b) {
                if (a.rank != b.rank) return a.rank < b.rank;
                return a.rank > 0 && a.length > b.length;
            });
            auto group_of = [&](const std::string& value, const NginxDirective& at) -> std::string {
                auto target = parse_proxy_pass(value, true);
                if (!target.error.empty()) {
                    report_.unsupported(at, target.error + "; left out");
                    return "";
                }
                return stream_group(at, target.host, target.port, false, scope);
            };
            for (const auto& entry : entries) {
                std::string group = group_of(entry.value, *entry.at);
                if (group.empty()) continue;
                // Consecutive entries to one group share a rule.
                if (!listener.rules.empty() && listener.rules.back().action.target_group == group &&
                    listener.rules.back().comment.find("map") == 0) {
                    listener.rules.back().hosts.push_back(entry.host);
                    continue;
                }
                RuleModel rule;
                rule.source = entry.at;
                rule.hosts = {entry.host};
                rule.action.target_group = group;
                rule.comment = "map entry at " + entry.at->where();
                listener.rules.push_back(std::move(rule));
            }
            std::string fallback = default_value.empty() ? "" : group_of(default_value, *map);
            if (fallback.empty()) {
                // nginx closes a connection whose proxy_pass is empty: a group without targets does the same.
                fallback = unique_group_name("no-sni-match");
                for (const auto& group : model_.groups)
                    if (group.name.rfind("no-sni-match", 0) == 0 && group.targets.empty()) fallback = group.name;
                if (std::none_of(model_.groups.begin(), model_.groups.end(),
                                 [&](const GroupModel& g) { return g.name == fallback; })) {
                    GroupModel empty;
                    empty.name = fallback;
                    empty.protocol = "tcp";
                    empty.comment = "the map has no default: nginx closes such connections, and so does a group without targets";
                    model_.groups.push_back(std::move(empty));
                }
            }
            listener.default_action.target_group = fallback;
            listener.default_comment = "the map's default (" + map->where() + ")";
            model_.listeners.push_back(std::move(listener));
        }
    }
    for (const auto& [name, map] : stream_maps_)
        if (std::find(used_maps.begin(), used_maps.end(), map) == used_maps.end())
            report_.unsupported(*map, "lb has no variables; only a map of $ssl_preread_server_name used by proxy_pass "
                                      "is mapped (to tls_passthrough rules)");
    for (const auto& [name, upstream] : stream_upstreams_)
        if (std::find(used_upstreams_.begin(), used_upstreams_.end(), upstream) == used_upstreams_.end())
            report_.ignored(*upstream, "no proxy_pass uses it");
}

}  // namespace lb::conf::nginx

// The http block: servers grouped by listen socket into lb listeners. nginx
// picks a socket's server by Host: an exact server_name first, then the
// longest leading wildcard (*.example.com, .example.com), then the longest
// trailing one (www.example.*), else the default server. The listener's
// rules follow that order: each server's rules (nginx_import_locations.cpp)
// with its names as the host condition, exact names first, wildcards by
// length; then the default server's rules without a host, its last one
// becoming the default action.
#include <algorithm>
#include <map>

#include "conf/nginx_importer.h"
#include "conf/nginx_patterns.h"
#include "conf/patterns.h"
#include "conf/units.h"
#include "lb/base/net_address.h"

namespace lb::conf::nginx {

namespace {

// One server_name as an lb host condition, with its place in nginx's order.
struct HostName {
    std::string pattern;
    int rank = 0;        // 0 exact, 1 leading wildcard, 2 trailing wildcard
    size_t length = 0;   // of the literal part: longer wildcards first
};

struct Server {
    const NginxDirective* directive = nullptr;
    Scope scope;
    std::vector<HostName> names;
    std::vector<RuleModel> rules;
    bool rules_made = false;
};

struct Socket {
    std::string listen;                    // lb's form: 0.0.0.0:80, [::]:443
    const NginxDirective* first = nullptr; // the first listen naming it
    bool ssl = false, http2 = false, proxy_protocol = false;
    std::vector<size_t> servers;
    std::optional<size_t> default_server;
    std::string keepalive;                 // so_keepalive=
    const NginxDirective* keepalive_at = nullptr;
};

bool is_wildcard_address(const std::string& listen) {
    return listen.rfind("0.0.0.0:", 0) == 0 || listen.rfind("[::]:", 0) == 0;
}

std::string port_of(const std::string& listen) { return listen.substr(listen.rfind(':') + 1); }

std::string listener_name(const std::string& protocol, const std::string& listen) {
    std::string port = port_of(listen);
    std::string host = listen.substr(0, listen.rfind(':'));
    if (host == "0.0.0.0") return protocol + "-" + port;
    if (host == "[::]") return protocol + "-" + port + "-ipv6";
    return protocol + "-" + host + "-" + port;
}

// The largest of several values of one per-listener setting; the ones that
// differ are reported.
struct Largest {
    int64_t value = -1;
    std::vector<std::pair<const NginxDirective*, int64_t>> seen;
    void add(const NginxDirective* at, int64_t v) {
        seen.emplace_back(at, v);
        value = std::max(value, v);
    }
    void report(Report& report, const std::string& listener, const std::string& key, const std::string& text) const {
        for (const auto& [at, v] : seen)
            if (v != value && at)
                report.approximated(*at, "lb has one " + key + " per listener; " + listener + " uses " + text +
                                             ", the largest of its servers and locations");
    }
};

}  // namespace

void Importer::http(const NginxDirective& block) {
    report_unmapped(block, Context::http, report_);
    Scope http_scope = Scope().inner(block);
    for (const NginxDirective& directive : block.block) {
        if (directive.name == "upstream" && directive.args.size() == 1) {
            if (http_upstreams_.count(directive.args[0])) report_.unsupported(directive, "a second upstream of that name");
            else http_upstreams_[directive.args[0]] = &directive;
        } else if (directive.name == "map") {
            if (!directive.args.empty() && directive.args[0] == "$http_upgrade")
                report_.ignored(directive, "lb passes WebSocket upgrades by itself");
            else
                report_.unsupported(directive, "lb has no variables; route with rule conditions instead");
        } else if (directive.name == "root" || directive.name == "index") {
            report_.ignored(directive, "lb serves no files, so this has no effect on what it proxies");
        } else if (directive.name == "access_log") {
            const auto& args = directive.args;
            if (args.size() == 1 && args[0] == "off") {
                model_.global.access_log_path = "stdout";
                model_.global.access_log_format = "off";
            } else if (!args.empty() && args[0].find(':') == std::string::npos) {
                model_.global.access_log_path = absolute(args[0]);
                model_.global.access_log_format = "combined";
                if (args.size() > 1 && args[1] != "combined")
                    report_.approximated(directive, "the import uses combined (followed by the target and the duration); "
                                                    "a log_format can be written as access_log's template "
                                                    "with the same $variables (README, Logs)");
            } else {
                report_.unsupported(directive, "lb writes its access log to a file, stdout or stderr");
            }
        } else if (directive.name == "log_format") {
            report_.ignored(directive, "not translated: access_log's format: template takes nginx's $variables "
                                           "(README, Logs)");
        } else if (directive.name == "resolver") {
            for (const auto& arg : directive.args) {
                if (arg.find('=') != std::string::npos) {
                    report_.approximated(directive, "lb follows the records' TTLs (global.resolver); '" + arg + "' was left out");
                    continue;
                }
                std::string why;
                bool bracketed = !arg.empty() && arg.front() == '[';
                auto address = SocketAddress::parse(bracketed || arg.find(':') != std::string::npos ? arg : arg + ":53");
                if (address) model_.global.nameservers.push_back(address->to_string());
                else report_.unsupported(directive, "lb needs nameservers as IP addresses; '" + arg + "' was left out");
            }
        }
    }

    std::vector<Server> servers;
    std::vector<Socket> sockets;
    auto socket_for = [&](const std::string& listen) -> Socket& {
        for (auto& socket : sockets)
            if (socket.listen == listen) return socket;
        sockets.push_back(Socket{});
        sockets.back().listen = listen;
        return sockets.back();
    };
    for (const NginxDirective* directive : block.children("server")) {
        report_unmapped(*directive, Context::server, report_);
        Server server;
        server.directive = directive;
        server.scope = http_scope.inner(*directive);
        for (const NginxDirective* names : directive->children("server_name")) {
            for (const auto& name : names->args) {
                if (name.empty() || name == "_") continue;
                std::string plain = name.front() == '.' ? name.substr(1) : name;
                if (name.front() != '~' && name.find('$') == std::string::npos && check_host_pattern(plain)) {
                    report_.unsupported(*names, "'" + name + "' is not a host name lb matches (" +
                                                    *check_host_pattern(plain) + "); left out");
                } else if (name.front() == '~' || name.find('$') != std::string::npos) {
                    report_.unsupported(*names, "lb's host conditions are wildcards, not regexes: '" + name + "' was "
                                                "left out");
                } else if (name.front() == '.') {
                    server.names.push_back({name.substr(1), 0, name.size() - 1});
                    server.names.push_back({"*" + name, 1, name.size()});
                } else if (name.rfind("*.", 0) == 0) {
                    server.names.push_back({name, 1, name.size() - 1});
                } else if (name.size() > 2 && name.compare(name.size() - 2, 2, ".*") == 0) {
                    server.names.push_back({name, 2, name.size() - 1});
                } else if (name.find('*') != std::string::npos) {
                    report_.unsupported(*names, "'" + name + "' is not a name nginx accepts; left out");
                } else {
                    server.names.push_back({name, 0, name.size()});
                }
            }
        }
        bool server_ssl = false, server_http2 = false;
        if (const NginxDirective* ssl = directive->child("ssl"); ssl && ssl->args == std::vector<std::string>{"on"})
            server_ssl = true;
        if (const NginxDirective* h2 = directive->child("http2"); h2 && h2->args == std::vector<std::string>{"on"})
            server_http2 = true;
        size_t index = servers.size();
        servers.push_back(std::move(server));
        auto listens = directive->children("listen");
        if (listens.empty()) {
            Socket& socket = socket_for("0.0.0.0:80");  // nginx's default listen
            if (!socket.first) socket.first = directive;
            socket.servers.push_back(index);
            socket.ssl = socket.ssl || server_ssl;
            socket.http2 = socket.http2 || server_http2;
            continue;
        }
        for (const NginxDirective* listen : listens) {
            if (listen->args.empty()) continue;
            if (listen->args[0].rfind("unix:", 0) == 0) {
                report_.unsupported(*listen, "lb listens on IP addresses and ports, not unix sockets");
                continue;
            }
            std::string why;
            auto address = nginx_listen_address(listen->args[0], why);
            if (!address) {
                report_.unsupported(*listen, why + "; '" + listen->args[0] + "' was left out");
                continue;
            }
            Socket& socket = socket_for(*address);
            if (!socket.first) socket.first = listen;
            if (std::find(socket.servers.begin(), socket.servers.end(), index) == socket.servers.end())
                socket.servers.push_back(index);
            socket.ssl = socket.ssl || server_ssl;
            socket.http2 = socket.http2 || server_http2;
            for (size_t i = 1; i < listen->args.size(); ++i) {
                const std::string& param = listen->args[i];
                std::string key = param.substr(0, param.find('='));
                if (param == "default_server" || param == "default") {
                    if (!socket.default_server) socket.default_server = index;
                } else if (param == "ssl") {
                    socket.ssl = true;
                } else if (param == "http2") {
                    socket.http2 = true;
                } else if (param == "proxy_protocol") {
                    socket.proxy_protocol = true;
                } else if (param == "reuseport" || param == "ipv6only=on") {
                    report_.ignored(*listen);
                } else if (key == "so_keepalive") {
                    socket.keepalive = param.substr(param.find('=') + 1);
                    socket.keepalive_at = listen;
                } else if (key == "backlog" || key == "rcvbuf" || key == "sndbuf" || key == "deferred" ||
                           key == "bind" || key == "fastopen" || key == "accept_filter" || key == "setfib") {
                    report_.ignored(*listen, "lb sets its own socket options ('" + param + "' left out)");
                } else {
                    report_.unsupported(*listen, "the parameter '" + param + "' has no lb counterpart; left out");
                }
            }
        }
    }

    // lb cannot listen on a wildcard and a specific address of the same
    // port: a specific socket's servers move to the wildcard one.
    for (size_t i = 0; i < sockets.size(); ++i) {
        if (is_wildcard_address(sockets[i].listen)) continue;
        bool v6 = sockets[i].listen.front() == '[';
        std::string wildcard = (v6 ? "[::]:" : "0.0.0.0:") + port_of(sockets[i].listen);
        auto target = std::find_if(sockets.begin(), sockets.end(), [&](const Socket& s) { return s.listen == wildcard; });
        if (target == sockets.end()) continue;
        for (size_t server : sockets[i].servers)
            if (std::find(target->servers.begin(), target->servers.end(), server) == target->servers.end())
                target->servers.push_back(server);
        report_.approximated(*sockets[i].first, "lb cannot listen on " + sockets[i].listen + " and " + wildcard +
                                                    " together; these servers are served on " + wildcard +
                                                    " (for every local address)");
        sockets.erase(sockets.begin() + static_cast<long>(i));
        --i;
    }

    for (Socket& socket : sockets) {
        if (!claim_listen(socket.listen, false, *socket.first)) continue;
        ListenerModel listener;
        listener.protocol = socket.ssl ? "https" : "http";
        listener.listen = socket.listen;
        listener.name = unique_listener_name(listener_name(listener.protocol, socket.listen));
        size_t default_index = socket.default_server.value_or(socket.servers.front());
        // The default server first: its certificate is the default one too.
        std::vector<size_t> order{default_index};
        for (size_t index : socket.servers)
            if (index != default_index) order.push_back(index);
        const Server& default_server = servers[default_index];
        listener.comment = "listen " + socket.listen + " (" + socket.first->where() + "); default server at " +
                           default_server.directive->where();

        // Settings nginx has per server or location and lb per listener.
        Largest idle, header, body, tunnel;
        for (size_t index : order) {
            const Server& server = servers[index];
            auto value_of = [&](const char* name, int64_t fallback, bool size, Largest& into, const Scope& scope) {
                const NginxDirective* at = scope.last(name);
                int64_t v = fallback;
                if (at && !at->args.empty()) {
                    if (size) {
                        auto bytes = parse_nginx_size(at->args[0]);
                        if (bytes) v = *bytes == 0 ? INT64_MAX : static_cast<int64_t>(*bytes);
                        else report_.unsupported(*at, "cannot read the size '" + at->args[0] + "'");
                    } else {
                        v = duration_arg(*at).value_or(fallback);
                    }
                }
                into.add(at, v);
            };
            value_of("keepalive_timeout", 75000, false, idle, server.scope);
            value_of("client_header_timeout", 60000, false, header, server.scope);
            value_of("client_max_body_size", 1024 * 1024, true, body, server.scope);
            for (const NginxDirective* location : server.directive->children("location")) {
                Scope scope = server.scope.inner(*location);
                if (location->child("client_max_body_size")) value_of("client_max_body_size", 0, true, body, scope);
                if (location->child("keepalive_timeout")) value_of("keepalive_timeout", 0, false, idle, scope);
                // nginx passes a WebSocket only where told to, and closes it
                // after proxy_read_timeout without a byte: lb's tunnel_idle_timeout.
                bool websocket = false;
                for (const NginxDirective* header : scope.all("proxy_set_header"))
                    websocket = websocket || (header->args.size() == 2 && header->args[1] == "$http_upgrade");
                if (websocket && location->child("proxy_pass")) value_of("proxy_read_timeout", 60000, false, tunnel, scope);
            }
        }
        if (idle.value == 0) {
            for (const auto& [at, v] : idle.seen)
                if (at && v == 0) report_.approximated(*at, "lb always keeps connections alive; idle_timeout is 1s");
            idle.value = 1000;
        }
        listener.idle_timeout = format_duration(Duration(idle.value));
        idle.report(report_, listener.name, "idle_timeout (keepalive_timeout)", listener.idle_timeout);
        listener.header_timeout = format_duration(Duration(std::max<int64_t>(header.value, 1)));
        header.report(report_, listener.name, "header_timeout (client_header_timeout)", listener.header_timeout);
        listener.max_body_size = body.value == INT64_MAX ? "0" : format_size(static_cast<uint64_t>(body.value));
        body.report(report_, listener.name, "max_body_size (client_max_body_size)", listener.max_body_size);

        if (tunnel.value > 0) {
            listener.tunnel_idle_timeout = format_duration(Duration(std::max<int64_t>(tunnel.value, 1)));
            tunnel.report(report_, listener.name, "tunnel_idle_timeout (proxy_read_timeout of WebSocket locations)",
                          listener.tunnel_idle_timeout);
        }

        const Scope& scope = default_server.scope;
        if (const NginxDirective* buffers = scope.last("large_client_header_buffers"); buffers && buffers->args.size() == 2) {
            auto count = parse_nginx_size(buffers->args[0]);
            auto size = parse_nginx_size(buffers->args[1]);
            if (count && size) {
                uint64_t total = std::clamp<uint64_t>(*count * *size, 1024, 1024 * 1024);
                listener.max_header_size = format_size(total);
                report_.approximated(*buffers, "lb limits the whole request head, not each line: max_header_size " +
                                                   listener.max_header_size);
            }
        }
        if (const NginxDirective* streams = scope.last("http2_max_concurrent_streams"); streams && streams->args.size() == 1) {
            const std::string& n = streams->args[0];
            if (!n.empty() && n.size() <= 5 && n.find_first_not_of("0123456789") == std::string::npos && std::stoi(n) >= 1 &&
                std::stoi(n) <= 10000)
                listener.max_concurrent_streams = n;
            else
                report_.unsupported(*streams, "lb takes 1..10000 streams; left at 128");
        }
        if (listener.protocol == "https") {
            if (!socket.http2) listener.http2 = "false";  // nginx speaks HTTP/2 only when told to
        } else if (socket.http2) {
            listener.http2 = "prior_knowledge";
        }
        if (!socket.keepalive.empty()) {
            std::string value = socket.keepalive;
            if (value == "on") {
                report_.ignored(*socket.keepalive_at);
            } else if (value == "off") {
                report_.unsupported(*socket.keepalive_at, "lb keeps its keepalive probes on (tcp_keepalive.enabled)");
            } else {
                std::vector<std::string> parts{""};
                for (char c : value) {
                    if (c == ':') parts.emplace_back();
                    else parts.back().push_back(c);
                }
                parts.resize(3);
                auto seconds = [](const std::string& text) -> std::string {
                    auto ms = parse_nginx_duration(text);
                    if (!ms || *ms < 1000) return "";
                    return format_duration(Duration(std::min<int64_t>(*ms / 1000, 32767) * 1000));
                };
                listener.keepalive_idle = seconds(parts[0]);
                listener.keepalive_interval = seconds(parts[1]);
                if (!parts[2].empty() && parts[2].find_first_not_of("0123456789") == std::string::npos &&
                    parts[2].size() < 4 && std::stoi(parts[2]) >= 1 && std::stoi(parts[2]) <= 127)
                    listener.keepalive_count = parts[2];
                if (listener.keepalive_idle.empty()) listener.keepalive_idle = "60s";
            }
        }
        client_addresses(socket.proxy_protocol, socket.first, scope, listener);
        if (listener.protocol == "https") {
            std::vector<const NginxDirective*> directives;
            std::vector<Scope> scopes;
            for (size_t index : order) {
                directives.push_back(servers[index].directive);
                scopes.push_back(servers[index].scope);
            }
            tls_settings(*socket.first, directives, scopes, listener);
            if (listener.certificates.empty()) {
                report_.unsupported(*socket.first, "no ssl_certificate for " + socket.listen + "; the listener was left out");
                continue;
            }
        }

        // Host blocks in nginx's order.
        struct Block {
            size_t server;
            std::vector<std::string> hosts;
            int rank;
            size_t length;
        };
        std::vector<Block> blocks;
        bool any_wildcard = false;
        for (size_t index : order)
            for (const auto& name : servers[index].names)
                if (name.rank > 0 && index != default_index) any_wildcard = true;
        for (size_t index : order) {
            if (index == default_index && !any_wildcard) continue;
            Block exact{index, {}, 0, 0};
            for (const auto& name : servers[index].names) {
                if (name.rank == 0) exact.hosts.push_back(name.pattern);
                else blocks.push_back(Block{index, {name.pattern}, name.rank, name.length});
            }
            if (!exact.hosts.empty()) blocks.push_back(exact);
        }
        std::stable_sort(blocks.begin(), blocks.end(), [](const Block& a, const Block& b) {
            if (a.rank != b.rank) return a.rank < b.rank;
            return a.rank > 0 && a.length > b.length;
        });
        auto rules_of = [&](size_t index) -> const std::vector<RuleModel>& {
            Server& server = servers[index];
            if (!server.rules_made) {
                server.rules = server_rules(*server.directive, server.scope);
                server.rules_made = true;
            }
            return server.rules;
        };
        for (const Block& block_of_hosts : blocks) {
            for (RuleModel rule : rules_of(block_of_hosts.server)) {
                rule.hosts = block_of_hosts.hosts;
                listener.rules.push_back(std::move(rule));
            }
        }
        std::vector<RuleModel> defaults = rules_of(default_index);
        for (size_t i = 0; i + 1 < defaults.size(); ++i) listener.rules.push_back(defaults[i]);
        // server_rules ends with a rule for every other request: the default action.
        const RuleModel& last = defaults.back();
        listener.default_action = last.action;
        listener.default_comment = "what the default server does with anything else: " + last.comment;
        finish_listener(listener, last.source);
        model_.listeners.push_back(std::move(listener));
    }

    for (const auto& [name, upstream] : http_upstreams_)
        if (std::find(used_upstreams_.begin(), used_upstreams_.end(), upstream) == used_upstreams_.end())
            report_.ignored(*upstream, "no proxy_pass uses it");
}

}  // namespace lb::conf::nginx

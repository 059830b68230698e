// Settings nginx has per server and lb per listener: the client address
// (realip, PROXY protocol), TLS certificates and policy; and the last
// touches on a listener made from servers.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>

#include "conf/nginx_importer.h"
#include "lb/base/ascii.h"
#include "lb/base/net_address.h"
#include "lb/base/unique_fd.h"

namespace lb::conf::nginx {

namespace {

bool readable(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
    return static_cast<bool>(fd) && !std::filesystem::is_directory(path);
}

std::set<std::string> protocol_set(const Scope& scope) {
    const NginxDirective* protocols = scope.last("ssl_protocols");
    if (!protocols) return {"TLSv1.2", "TLSv1.3"};
    return {protocols->args.begin(), protocols->args.end()};
}

std::string cipher_text(const Scope& scope) {
    const NginxDirective* ciphers = scope.last("ssl_ciphers");
    return ciphers && ciphers->args.size() == 1 ? ciphers->args[0] : "";
}

// Every suite named is ECDHE with AES-GCM or ChaCha20 (lb's recommended).
bool forward_secret_aead_only(const std::string& list) {
    if (list.empty()) return false;
    size_t start = 0;
    bool any = false;
    while (start <= list.size()) {
        size_t end = list.find(':', start);
        std::string token = list.substr(start, end == std::string::npos ? std::string::npos : end - start);
        start = end == std::string::npos ? list.size() + 1 : end + 1;
        if (token.empty() || token.front() == '!' || token.front() == '-') continue;
        if (token.rfind("ECDHE-", 0) != 0) return false;
        if (token.find("GCM") == std::string::npos && token.find("CHACHA20") == std::string::npos) return false;
        any = true;
    }
    return any;
}

}  // namespace

void Importer::client_addresses(bool proxy_protocol, const NginxDirective* listen, const Scope& scope,
                                ListenerModel& listener) {
    const NginxDirective* header = scope.last("real_ip_header");
    std::string header_name = header && header->args.size() == 1 ? ascii_lower(header->args[0]) : "";
    std::vector<std::string> cidrs;
    auto from = scope.all("set_real_ip_from");
    for (const NginxDirective* entry : from) {
        for (const auto& arg : entry->args) {
            if (arg.rfind("unix:", 0) == 0) continue;
            if (Cidr::parse(arg)) cidrs.push_back(arg);
            else report_.unsupported(*entry, "'" + arg + "' is not an address or CIDR lb reads; left out");
        }
    }
    if (proxy_protocol) {
        listener.accept_proxy_protocol = true;
        listener.trusted_proxies = cidrs.empty() ? std::vector<std::string>{"0.0.0.0/0", "::/0"} : cidrs;
        if (header_name != "proxy_protocol" && listen)
            report_.approximated(*listen, "lb takes the client address from the PROXY header (nginx does so only "
                                          "with real_ip_header proxy_protocol)");
        if (!header_name.empty() && header_name != "proxy_protocol")
            report_.approximated(*header, "with a PROXY header lb takes the client from it, not from " + header->args[0]);
        return;
    }
    if (header_name == "proxy_protocol") {
        report_.ignored(*header, "the listen has no proxy_protocol");
        return;
    }
    if (cidrs.empty()) return;
    if (header_name == "x-forwarded-for") {
        listener.trusted_proxies = cidrs;
        const NginxDirective* recursive = scope.last("real_ip_recursive");
        if (!recursive || recursive->args != std::vector<std::string>{"on"})
            report_.approximated(*header, "lb walks X-Forwarded-For from the right past every trusted proxy, as "
                                          "with real_ip_recursive on");
        return;
    }
    const NginxDirective& at = header ? *header : *from.front();
    report_.unsupported(at, "lb reads the client address from X-Forwarded-For or a PROXY header only, not " +
                                (!header ? std::string("X-Real-IP (nginx's default)")
                                        : header->args.empty() ? std::string("an empty real_ip_header")
                                                               : header->args[0]));
}

void Importer::tls_settings(const NginxDirective& listen, const std::vector<const NginxDirective*>& servers,
                            const std::vector<Scope>& scopes, ListenerModel& listener) {
    for (size_t i = 0; i < servers.size(); ++i) {
        auto certs = scopes[i].all("ssl_certificate");
        auto keys = scopes[i].all("ssl_certificate_key");
        if (certs.size() != keys.size() && !certs.empty())
            report_.unsupported(*certs.front(), "each ssl_certificate needs its ssl_certificate_key; unpaired ones "
                                                "were left out");
        for (size_t c = 0; c < std::min(certs.size(), keys.size()); ++c) {
            if (certs[c]->args.size() != 1 || keys[c]->args.size() != 1) continue;
            const std::string& cert = certs[c]->args[0];
            const std::string& key = keys[c]->args[0];
            if (cert.find('$') != std::string::npos || cert.rfind("data:", 0) == 0 ||
                key.find('$') != std::string::npos || key.rfind("data:", 0) == 0 || key.rfind("engine:", 0) == 0) {
                report_.unsupported(*certs[c], "lb reads certificates and keys from files named in full");
                continue;
            }
            CertificateModel model{absolute(cert), absolute(key)};
            if (std::find(listener.certificates.begin(), listener.certificates.end(), model) != listener.certificates.end())
                continue;
            for (const auto& [path, at] : {std::pair{model.cert, certs[c]}, std::pair{model.key, keys[c]}})
                if (!readable(path))
                    report_.attention(*at, "cannot read " + path + " here: the YAML names it as nginx does, and "
                                           "lb -t refuses the config until lb can read it");
            listener.certificates.push_back(std::move(model));
        }
    }

    // The policy: what the default server's ssl_protocols and ssl_ciphers come closest to.
    const Scope& scope = scopes.front();
    std::set<std::string> protocols = protocol_set(scope);
    std::string ciphers = cipher_text(scope);
    const NginxDirective* protocols_at = scope.last("ssl_protocols");
    const NginxDirective* ciphers_at = scope.last("ssl_ciphers");
    if (protocols == std::set<std::string>{"TLSv1.3"}) {
        listener.tls_policy = "modern";
    } else {
        if (protocols.count("TLSv1") || protocols.count("TLSv1.1") || protocols.count("SSLv3"))
            report_.approximated(*protocols_at, "lb speaks TLS 1.2 and 1.3 only");
        else if (!protocols.count("TLSv1.3"))
            report_.approximated(*protocols_at, "lb's policies offer TLS 1.3 next to TLS 1.2");
        if (forward_secret_aead_only(ciphers)) {
            listener.tls_policy = "recommended";
        } else if (ciphers.empty()) {
            listener.tls_policy = "recommended";
            report_.approximated(listen, "no ssl_ciphers: nginx's default (HIGH:!aNULL:!MD5) also allows suites "
                                         "without forward secrecy and CBC suites; lb's recommended policy allows "
                                         "ECDHE with AES-GCM or ChaCha20 (compat adds ECDHE with AES-CBC)");
        } else {
            listener.tls_policy = "compat";
            report_.approximated(*ciphers_at, "lb's compat policy (ECDHE with AES-GCM, ChaCha20 or AES-CBC) is the "
                                              "nearest to this list");
        }
    }
    for (size_t i = 1; i < scopes.size(); ++i) {
        if (protocol_set(scopes[i]) != protocols || cipher_text(scopes[i]) != ciphers) {
            const NginxDirective* at = scopes[i].last("ssl_protocols");
            if (!at || protocol_set(scopes[i]) == protocols) at = scopes[i].last("ssl_ciphers");
            report_.approximated(at ? *at : *servers[i], "lb has one TLS policy per listener; " + listener.name +
                                                             " uses the default server's (" + listener.tls_policy + ")");
        }
    }
}

void Importer::finish_listener(ListenerModel& listener, const void* default_source) {
    // lb's priorities go up to 50000: one rule each.
    constexpr size_t kMaxRules = 50000;
    if (listener.rules.size() > kMaxRules) {
        if (const void* source = listener.rules[kMaxRules].source)
            report_.unsupported(*static_cast<const NginxDirective*>(source),
                                listener.name + " would need more than 50000 rules; the rest were left out");
        listener.rules.resize(kMaxRules);
    }
    // A redirect to the very URL asked for is refused by lb (nginx would loop).
    const std::string own = listener.protocol == "https" ? "HTTPS" : "HTTP";
    const std::string port = listener.listen.substr(listener.listen.rfind(':') + 1);
    auto fix = [&](ActionModel& action, const void* source) {
        if (action.kind != ActionModel::Kind::redirect) return;
        bool same = (action.protocol.empty() || action.protocol == own) && (action.port.empty() || action.port == port) &&
                    action.host.empty() && action.path == "/#{path}" && action.query == "#{query}";
        if (!same) return;
        if (source)
            report_.unsupported(*static_cast<const NginxDirective*>(source),
                                "on " + listener.name + " this redirects to the same URL (a loop); it answers 500 there");
        ActionModel replacement;
        replacement.kind = ActionModel::Kind::fixed_response;
        replacement.status = 500;
        replacement.content_type = "text/plain";
        replacement.body = "not imported from nginx: a redirect to the same URL\n";
        action = replacement;
    };
    for (auto& rule : listener.rules) fix(rule.action, rule.source);
    fix(listener.default_action, default_source);

    // Header edits that every action shares go on the listener once.
    std::vector<ActionModel*> actions{&listener.default_action};
    for (auto& rule : listener.rules) actions.push_back(&rule.action);
    bool all_forward = std::all_of(actions.begin(), actions.end(),
                                   [](const ActionModel* a) { return a->kind == ActionModel::Kind::forward; });
    const ActionModel* first_forward = nullptr;
    for (const ActionModel* action : actions)
        if (action->kind == ActionModel::Kind::forward && !first_forward) first_forward = action;
    if (!first_forward) return;
    bool same_request = true;
    for (const ActionModel* action : actions) {
        if (action->kind != ActionModel::Kind::forward) continue;
        same_request = same_request && action->request_headers == first_forward->request_headers;
    }
    if (same_request && !first_forward->request_headers.empty()) {
        listener.request_headers = first_forward->request_headers;
        for (ActionModel* action : actions) action->request_headers = {};
    }
    // lb's own answers take set and add only: edits that remove headers
    // stay on the forward actions unless there are no others.
    bool same_everywhere = std::all_of(actions.begin(), actions.end(), [&](const ActionModel* a) {
        return a->response_headers == first_forward->response_headers;
    });
    if ((all_forward || first_forward->response_headers.remove.empty()) && same_everywhere &&
        !first_forward->response_headers.empty()) {
        listener.response_headers = first_forward->response_headers;
        for (ActionModel* action : actions) action->response_headers = {};
    }
}

}  // namespace lb::conf::nginx

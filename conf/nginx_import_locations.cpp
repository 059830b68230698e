// A server's locations as lb rules, ordered so that lb's first match gives
// nginx's answer. nginx picks a location so: an exact (=) location equal to
// the path; else the longest prefix location; if that is ^~ it wins, else
// the first regex location (in file order) that matches, else that longest
// prefix. Here the rules come as: exact paths; then, for each prefix from
// the longest, the regexes narrowed to paths under that prefix
// (intersect_prefix) followed by the prefix itself (a ^~ prefix has no
// regexes before it); then the regexes alone for paths under no prefix;
// then what nginx does when nothing matched. A path reaches the rules of
// its longest prefix first because every rule before them lies under a
// longer prefix it does not start with.
//
// allow/deny become one rule per run of entries with the same verdict
// (source_ip condition; 403 for deny), in nginx's order, before the
// location's own rule.
#include <algorithm>

#include "conf/nginx_importer.h"
#include "conf/nginx_patterns.h"
#include "conf/patterns.h"
#include "lb/base/net_address.h"

namespace lb::conf::nginx {

namespace {

struct Step {
    std::vector<std::string> source_ips;  // empty: everyone left
    ActionModel action;
};

struct Location {
    enum class Kind { exact, prefix, noregex, regex };
    const NginxDirective* directive = nullptr;
    Kind kind = Kind::prefix;
    std::string path;                     // exact and prefix kinds
    std::vector<std::string> patterns;    // regex kind
    std::vector<Step> steps;
    std::string comment;
    HeaderEditsModel slash_redirect_headers;  // add_header on nginx's 301 to "path/"
};

ActionModel not_imported() {
    ActionModel action;
    action.kind = ActionModel::Kind::fixed_response;
    action.status = 500;
    action.content_type = "text/plain";
    action.body = "not imported from nginx (see the lb import-nginx report)\n";
    return action;
}

ActionModel fixed(int status) {
    ActionModel action;
    action.kind = ActionModel::Kind::fixed_response;
    action.status = status;
    return action;
}

bool has_wildcard(const std::string& path) { return path.find_first_of("*?") != std::string::npos; }

// allow/deny entries as steps ending with `content` for whoever is left.
std::vector<Step> access_steps(const Scope& scope, const ActionModel& content, Report& report) {
    std::vector<Step> steps;
    bool ended = false;
    for (const NginxDirective* entry : scope.all({"allow", "deny"})) {
        if (ended) {
            report.ignored(*entry, "unreachable: an earlier allow/deny 'all' decides first");
            continue;
        }
        bool allow = entry->name == "allow";
        ActionModel verdict = allow ? content : fixed(403);
        if (entry->args.size() != 1) {
            report.unsupported(*entry, "expected one address, CIDR or 'all'");
            continue;
        }
        const std::string& what = entry->args[0];
        if (what == "all") {
            steps.push_back(Step{{}, verdict});
            ended = true;
            continue;
        }
        if (what.rfind("unix:", 0) == 0) {
            report.ignored(*entry, "lb has no unix-socket listeners");
            continue;
        }
        if (!Cidr::parse(what)) {
            report.unsupported(*entry, "'" + what + "' is not an address or CIDR lb reads");
            continue;
        }
        if (!steps.empty() && !steps.back().source_ips.empty() && steps.back().action == verdict)
            steps.back().source_ips.push_back(what);
        else
            steps.push_back(Step{{what}, verdict});
    }
    if (!ended) steps.push_back(Step{{}, content});
    return steps;
}

}  // namespace

namespace {

// "location /api/ (conf.d/site.conf:12)"
std::string describe(const NginxDirective& directive, const std::string& conf_dir) {
    std::string file = directive.file;
    std::string prefix = conf_dir == "." ? "" : conf_dir + "/";
    if (!prefix.empty() && file.rfind(prefix, 0) == 0) file = file.substr(prefix.size());
    std::string text = directive.name;
    for (const auto& arg : directive.args) text += " " + arg;
    return text + " (" + file + ":" + std::to_string(directive.line) + ")";
}

}  // namespace

std::vector<RuleModel> Importer::server_rules(const NginxDirective& server, const Scope& server_scope) {
    std::vector<std::string> names;
    for (const NginxDirective* directive : server.children("server_name"))
        for (const auto& name : directive->args)
            if (name.find_first_of("*~$") == std::string::npos && !name.empty() && name != "_") names.push_back(name);

    std::vector<RuleModel> rules;
    const NginxDirective* source = &server;
    auto emit = [&](const std::vector<std::string>& paths, const std::vector<Step>& steps, const std::string& comment) {
        for (const auto& step : steps) {
            RuleModel rule;
            rule.source = source;
            rule.paths = paths;
            rule.source_ips = step.source_ips;
            rule.action = step.action;
            rule.comment = comment;
            rules.push_back(std::move(rule));
        }
    };

    for (const NginxDirective* directive : server.children("rewrite"))
        report_.unsupported(*directive, "lb has no regex rewrites; a prefix rewrite is a forward's path_rewrite, a "
                                        "redirect is a redirect action");
    for (const NginxDirective* directive : server.children("if"))
        report_.unsupported(*directive, "lb has no conditional configuration; the block was left out");
    for (const char* name : {"root", "index"})
        for (const NginxDirective* directive : server.children(name))
            report_.ignored(*directive, "lb serves no files, so this has no effect on what it proxies");

    // A return at server level answers every request before locations are looked at.
    if (const NginxDirective* ret = server.child("return")) {
        auto action = return_action(*ret, server_scope, names);
        for (const NginxDirective* location : server.children("location"))
            report_.ignored(*location, "unreachable: the server's return answers every request");
        RuleModel rule;
        rule.action = action ? *action : not_imported();
        if (!action) report_.unsupported(*ret, "the server answers 500 instead");
        rule.comment = describe(*ret, conf_dir_);
        source = ret;
        std::vector<Step> steps = access_steps(server_scope, rule.action, report_);
        emit({}, steps, rule.comment);
        return rules;
    }

    std::vector<Location> locations;
    for (const NginxDirective* directive : server.children("location")) {
        Location location;
        location.directive = directive;
        location.comment = describe(*directive, conf_dir_);
        std::string modifier, path;
        if (directive->args.size() == 2) {
            modifier = directive->args[0];
            path = directive->args[1];
        } else if (directive->args.size() == 1) {
            path = directive->args[0];
            for (const char* m : {"=", "^~", "~*", "~", "@"}) {
                if (path.rfind(m, 0) == 0 && path.size() > std::string(m).size()) {
                    modifier = m;
                    path = path.substr(modifier.size());
                    break;
                }
            }
        } else {
            report_.unsupported(*directive, "expected a modifier and a path");
            continue;
        }
        if (modifier == "@" || path.rfind('@', 0) == 0) {
            report_.unsupported(*directive, "named locations serve try_files and error_page, which lb does not have");
            continue;
        }
        if (modifier == "=") location.kind = Location::Kind::exact;
        else if (modifier == "^~") location.kind = Location::Kind::noregex;
        else if (modifier == "~" || modifier == "~*") location.kind = Location::Kind::regex;
        else if (!modifier.empty()) {
            report_.unsupported(*directive, "unknown modifier '" + modifier + "'");
            continue;
        }
        if (location.kind == Location::Kind::regex) {
            RegexTranslation translation = regex_to_wildcards(path, modifier == "~*");
            if (!translation.error.empty()) {
                report_.unsupported(*directive, "the regex cannot be written as lb path wildcards (" + translation.error +
                                                    "); the location was left out");
                continue;
            }
            if (translation.case_approximated)
                report_.approximated(*directive, "lb matches paths case-sensitively; the regex is matched as written");
            for (const auto& pattern : translation.patterns)
                if (auto why = check_path_pattern(pattern)) translation.error = *why;
            if (!translation.error.empty()) {
                report_.unsupported(*directive, "lb cannot match this regex as a path pattern (" + translation.error +
                                                    "); the location was left out");
                continue;
            }
            location.patterns = translation.patterns;
        } else {
            if (path.empty() || path.front() != '/' || has_wildcard(path) || path.size() > 120 ||
                check_path_pattern(path + "*")) {
                report_.unsupported(*directive, "lb path patterns start with '/', cannot hold a literal '*' or '?' and "
                                                "are at most 128 characters; the location was left out");
                continue;
            }
            location.path = path;
        }
        bool duplicate = false;
        for (const auto& other : locations)
            duplicate = duplicate || (other.kind != Location::Kind::regex && location.kind != Location::Kind::regex &&
                                      (other.kind == Location::Kind::exact) == (location.kind == Location::Kind::exact) &&
                                      other.path == location.path);
        if (duplicate) {
            report_.ignored(*directive, "a location with the same path comes first (nginx refuses this)");
            continue;
        }
        Scope scope = server_scope.inner(*directive);
        ActionModel content = location_content(*directive, scope, location.kind == Location::Kind::regex,
                                               location.path, names);
        location.steps = access_steps(scope, content, report_);
        answer_headers(scope, 301, location.slash_redirect_headers);
        locations.push_back(std::move(location));
    }

    std::vector<const Location*> prefixes;
    std::vector<const Location*> regexes;
    for (const auto& location : locations) {
        source = location.directive;
        if (location.kind == Location::Kind::exact) emit({location.path}, location.steps, location.comment);
        else if (location.kind == Location::Kind::regex) regexes.push_back(&location);
        else prefixes.push_back(&location);
    }
    std::stable_sort(prefixes.begin(), prefixes.end(),
                     [](const Location* a, const Location* b) { return a->path.size() > b->path.size(); });

    // nginx answers /api with a 301 to /api/ when "location /api/" proxies
    // and nothing else claims /api (a regex matching it would win).
    for (const Location* location : prefixes) {
        const std::string& path = location->path;
        if (path.size() < 2 || path.back() != '/' || !location->directive->child("proxy_pass")) continue;
        std::string bare = path.substr(0, path.size() - 1);
        bool claimed = false;
        for (const auto& other : locations) {
            if (other.kind != Location::Kind::regex && other.path == bare) claimed = true;
            for (const auto& pattern : other.patterns) claimed = claimed || wildcard_match(pattern, bare);
        }
        if (claimed) continue;
        ActionModel redirect;
        redirect.kind = ActionModel::Kind::redirect;
        redirect.path = path;
        redirect.query = "#{query}";
        redirect.status = 301;
        redirect.response_headers = location->slash_redirect_headers;
        source = location->directive;
        emit({bare}, {Step{{}, redirect}}, "nginx's redirect to " + path + " for " + location->comment);
    }

    bool root_prefix = false;
    for (const Location* prefix : prefixes) {
        if (prefix->kind == Location::Kind::prefix) {
            for (const Location* regex : regexes) {
                std::vector<std::string> narrowed;
                for (const auto& pattern : regex->patterns)
                    for (auto& p : intersect_prefix(prefix->path, pattern))
                        if (p.size() <= 128 && std::find(narrowed.begin(), narrowed.end(), p) == narrowed.end())
                            narrowed.push_back(p);
                source = regex->directive;
                if (!narrowed.empty()) emit(narrowed, regex->steps, regex->comment + " under " + prefix->path);
            }
        }
        source = prefix->directive;
        emit({prefix->path + "*"}, prefix->steps, prefix->comment);
        if (prefix->path == "/") {
            root_prefix = true;
            break;  // every path is under "/": nothing after it is reached
        }
    }
    if (root_prefix) {
        // The last rule, "/*" for everyone, is what the server does for any other request.
        rules.back().paths.clear();
        return rules;
    }
    for (const Location* regex : regexes) {
        source = regex->directive;
        emit(regex->patterns, regex->steps, regex->comment);
    }
    // No location matched: nginx serves a file from its root, or 404.
    RuleModel fallback;
    fallback.source = &server;
    fallback.action = fixed(404);
    answer_headers(server_scope, 404, fallback.action.response_headers);
    fallback.comment = "no location matched: nginx would look for a file; lb answers 404";
    rules.push_back(std::move(fallback));
    return rules;
}

ActionModel Importer::location_content(const NginxDirective& location, const Scope& scope, bool regex,
                                       const std::string& prefix, const std::vector<std::string>& server_names) {
    for (const NginxDirective& directive : location.block) {
        if (directive.name == "location")
            report_.unsupported(directive, "nested locations are not supported; write it at server level");
        else if (directive.name == "if")
            report_.unsupported(directive, "lb has no conditional configuration; the block was left out");
        else if (directive.name == "rewrite")
            report_.unsupported(directive, "lb has no regex rewrites; a prefix rewrite is a forward's path_rewrite");
    }
    report_unmapped(location, Context::location, report_);
    const NginxDirective* ret = location.child("return");
    const NginxDirective* proxy_pass = location.child("proxy_pass");
    if (ret) {
        if (proxy_pass) report_.ignored(*proxy_pass, "unreachable: the location's return answers first");
        auto action = return_action(*ret, scope, server_names);
        if (!action) report_.unsupported(*ret, "the location answers 500 instead");
        return action ? *action : not_imported();
    }
    if (!proxy_pass) {
        report_.unsupported(location, "lb does not serve files (root, alias, try_files, index); the location answers "
                                      "404 (serve the files from a target)");
        return fixed(404);
    }
    for (const char* name : {"root", "alias", "index"})
        for (const NginxDirective* directive : location.children(name))
            report_.ignored(*directive, "no effect next to proxy_pass");
    for (const NginxDirective* directive : location.children("try_files"))
        report_.unsupported(*directive, "lb does not serve files; every request is forwarded");
    return forward_action(*proxy_pass, scope, regex, prefix);
}

ActionModel Importer::forward_action(const NginxDirective& proxy_pass, const Scope& scope, bool regex,
                                     const std::string& prefix) {
    if (proxy_pass.args.size() != 1) {
        report_.unsupported(proxy_pass, "expected one URL; the location answers 500");
        return not_imported();
    }
    ProxyTarget target = parse_proxy_pass(proxy_pass.args[0], false);
    if (!target.error.empty()) {
        report_.unsupported(proxy_pass, target.error + "; the location answers 500");
        return not_imported();
    }
    std::string group = http_group(proxy_pass, target, scope);
    if (group.empty()) return not_imported();
    ActionModel action;
    action.target_group = group;
    if (!target.uri.empty()) {
        auto plain_path = [](const std::string& path) {
            return std::none_of(path.begin(), path.end(), [](unsigned char c) {
                return c <= ' ' || c == 0x7f || c == '?' || c == '#' || c == '%';
            });
        };
        if (!plain_path(target.uri) || !plain_path(prefix)) {
            report_.unsupported(proxy_pass, "lb's path_rewrite replacement is a plain path; the URI part was left out");
        } else if (regex) {
            report_.unsupported(proxy_pass, "a URI part in a regex location (nginx refuses it too); it was left out");
        } else if (target.uri != prefix) {
            action.rewrite_prefix = prefix;
            action.rewrite_replacement = target.uri;
        }
    }
    std::string proxy_host = target.host;
    int default_port = target.scheme == "https" ? 443 : 80;
    if (target.port != 0 && target.port != default_port) proxy_host += ":" + std::to_string(target.port);
    request_headers(scope, proxy_host, action.request_headers);
    response_headers(scope, action.response_headers);
    if (const NginxDirective* version = scope.last("proxy_http_version")) {
        if (version->args.size() == 1 && version->args[0] == "1.1") report_.ignored(*version);
        else report_.approximated(*version, "lb speaks HTTP/1.1 to targets");
    }
    if (const NginxDirective* redirect = scope.last("proxy_redirect")) {
        if (redirect->args.size() == 1 && redirect->args[0] == "off") report_.ignored(*redirect);
        else report_.unsupported(*redirect, "lb does not rewrite the Location headers of targets");
    }
    if (const NginxDirective* send = scope.last("proxy_send_timeout"))
        report_.approximated(*send, "lb has no timeout for sending to a target; response_timeout covers a silent one");
    return action;
}

}  // namespace lb::conf::nginx

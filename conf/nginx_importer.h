// The inside of `lb import-nginx`, shared by its files: the Importer that
// walks the nginx tree and fills the model (conf/nginx_model.h), and the
// Scope that answers nginx's inheritance questions. Each concept is its own
// file: nginx_import.cpp (entry point, main and events contexts,
// validation), nginx_import_http.cpp (servers and listen sockets to
// listeners), nginx_import_locations.cpp (locations to rules and actions),
// nginx_import_headers.cpp (headers, variables, return),
// nginx_import_upstream.cpp (upstreams and proxy_pass to target groups),
// nginx_import_stream.cpp (the stream block), nginx_directives.cpp (what
// every other directive becomes). Not for use outside conf/.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "conf/nginx_model.h"
#include "conf/nginx_reader.h"
#include "conf/nginx_report.h"

namespace lb::conf::nginx {

// The blocks around a directive, outermost first (http, server, location).
// nginx inherits a directive from the nearest enclosing level that has it,
// and a list directive (proxy_set_header, add_header, allow/deny) as a
// whole: a level with any entry replaces every entry of the outer levels.
class Scope {
public:
    Scope inner(const NginxDirective& block) const {
        Scope out = *this;
        out.levels_.push_back(&block);
        return out;
    }
    // Every directive named one of `names` at the innermost level that has any.
    std::vector<const NginxDirective*> all(std::initializer_list<const char*> names) const;
    std::vector<const NginxDirective*> all(const char* name) const { return all({name}); }
    // The last of them (nginx takes the last for a repeated single value), or nullptr.
    const NginxDirective* last(const char* name) const;
    const NginxDirective* innermost() const { return levels_.empty() ? nullptr : levels_.back(); }

private:
    std::vector<const NginxDirective*> levels_;
};

// Where a directive sits, for the table of what it becomes.
enum class Context { main, events, http, server, location, upstream, stream, stream_server, stream_upstream };

// Reports every directive of `block` that the importer's code does not map
// itself: ignored, unsupported or unknown (see nginx_directives.cpp).
void report_unmapped(const NginxDirective& block, Context context, Report& report);

// proxy_pass's target: an upstream block or one address.
struct ProxyTarget {
    std::string scheme;        // http | https (stream: empty)
    std::string host;          // upstream name or address, as written
    int port = 0;              // 0 = none written
    std::string uri;           // the URI part, empty when none
    std::string error;         // why it cannot be mapped
};
ProxyTarget parse_proxy_pass(const std::string& text, bool stream);

class Importer {
public:
    Importer(Report& report, std::string conf_dir) : report_(report), conf_dir_(std::move(conf_dir)) {}

    ConfigModel run(const std::vector<NginxDirective>& top, const std::string& source);

    // nginx_import_http.cpp
    void http(const NginxDirective& block);

    // nginx_import_locations.cpp: a server's rules, without hosts, ending
    // with a rule without paths (what nginx does when no location matches).
    std::vector<RuleModel> server_rules(const NginxDirective& server, const Scope& scope);
    // What a location answers with (return, proxy_pass, or 404 for files).
    ActionModel location_content(const NginxDirective& location, const Scope& scope, bool regex,
                                 const std::string& prefix, const std::vector<std::string>& server_names);
    ActionModel forward_action(const NginxDirective& proxy_pass, const Scope& scope, bool regex,
                               const std::string& prefix);

    // nginx_import_headers.cpp
    // A value with nginx variables as an lb header template; nullopt (and
    // `unknown` set) for a variable lb has no counterpart of.
    std::optional<std::string> header_value(const std::string& value, const std::string& proxy_host,
                                            std::string& unknown) const;
    void request_headers(const Scope& scope, const std::string& proxy_host, HeaderEditsModel& out);
    void response_headers(const Scope& scope, HeaderEditsModel& out);
    // The add_header lines nginx puts on an answer of `status` it makes
    // itself (return, its trailing-slash redirect, a 404): with `always`,
    // or for the statuses add_header covers without it. Exact, so nothing
    // is reported beyond what response_headers reports.
    void answer_headers(const Scope& scope, int status, HeaderEditsModel& out);
    // `return`: a redirect or fixed response; nullopt when it cannot be mapped.
    std::optional<ActionModel> return_action(const NginxDirective& directive, const Scope& scope,
                                             const std::vector<std::string>& server_names);

    // nginx_import_upstream.cpp: the target group a proxy_pass goes to
    // (made on first use), or "" when it cannot be mapped.
    std::string http_group(const NginxDirective& proxy_pass, const ProxyTarget& target, const Scope& scope);
    std::string stream_group(const NginxDirective& at, const std::string& host, int port, bool udp,
                             const Scope& scope);
    // Every group made so far, in order of first use.
    std::vector<GroupModel>& groups() { return model_.groups; }

    // nginx_import_listener.cpp: per-listener settings from the default
    // server's scope (realip, TLS), and the last touches (redirect loops,
    // header edits every action shares moved up to the listener).
    void client_addresses(bool proxy_protocol, const NginxDirective* listen, const Scope& scope,
                          ListenerModel& listener);
    void tls_settings(const NginxDirective& listen, const std::vector<const NginxDirective*>& servers,
                      const std::vector<Scope>& scopes, ListenerModel& listener);
    void finish_listener(ListenerModel& listener, const void* default_source);

    // nginx_import_stream.cpp
    void stream(const NginxDirective& block);

    Report& report() { return report_; }
    const std::string& conf_dir() const { return conf_dir_; }
    // False (and reported at `at`) when a listener made earlier already
    // takes `listen` (nginx could not bind both either). A listener on
    // lb's admin address turns the admin API off (reported).
    bool claim_listen(const std::string& listen, bool udp, const NginxDirective& at);
    // A name not yet taken by a listener (or a group), from `base`.
    std::string unique_listener_name(const std::string& base);
    std::string unique_group_name(const std::string& base);
    // An absolute path: relative ones are taken from the configuration's directory.
    std::string absolute(const std::string& path) const;
    // Milliseconds of a time directive's first argument (reported when bad).
    std::optional<int64_t> duration_arg(const NginxDirective& directive, size_t index = 0);
    ConfigModel& model() { return model_; }

private:
    // Group making (nginx_import_upstream.cpp).
    GroupModel make_group(const std::string& name, const std::string& protocol, const NginxDirective* upstream,
                          const std::string& host, int port, bool stream);
    void apply_http_settings(GroupModel& group, const NginxDirective& proxy_pass, const Scope& scope, bool first);

    Report& report_;
    std::string conf_dir_;
    ConfigModel model_;
    std::map<std::string, const NginxDirective*> http_upstreams_;
    std::map<std::string, const NginxDirective*> stream_upstreams_;
    std::map<std::string, const NginxDirective*> stream_maps_;  // variable name -> map block
    std::map<std::string, std::string> group_keys_;            // use key -> group name
    std::map<std::string, const NginxDirective*> group_first_use_;
    std::vector<const NginxDirective*> used_upstreams_;
};

}  // namespace lb::conf::nginx

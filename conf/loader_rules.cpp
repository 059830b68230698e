// A listener's `rules`: conditions, and the actions rules and defaults take.
#include "conf/loader.h"

#include <charconv>

#include "conf/patterns.h"
#include "conf/status_matcher.h"
#include "conf/units.h"

namespace lb::conf {

namespace {

constexpr uint64_t max_fixed_response_body = 64 * 1024;

bool can_forward(ListenerProtocol listener, TargetProtocol group) {
    switch (listener) {
        case ListenerProtocol::http:
        case ListenerProtocol::https:
            return group == TargetProtocol::http || group == TargetProtocol::https;
        case ListenerProtocol::tcp:
        case ListenerProtocol::tls_passthrough:
            return group == TargetProtocol::tcp;
        case ListenerProtocol::udp:
            return group == TargetProtocol::udp;
    }
    return false;
}

// Redirect fields may hold #{protocol} #{host} #{port} #{path} #{query}.
// Returns the text with each placeholder replaced by `stand_in`, so the
// remaining characters can be checked like a literal.
std::string check_placeholders(const YamlValue& value, const std::string& text, const std::string& stand_in) {
    static const std::vector<std::string_view> known{"#{protocol}", "#{host}", "#{port}", "#{path}", "#{query}"};
    std::string out;
    size_t at = 0;
    while (true) {
        size_t open = text.find("#{", at);
        if (open == std::string::npos) break;
        size_t close = text.find('}', open);
        if (close == std::string::npos) value.fail("unterminated placeholder in '" + text + "'");
        std::string_view name = std::string_view(text).substr(open, close + 1 - open);
        if (std::find(known.begin(), known.end(), name) == known.end())
            value.fail("unknown placeholder '" + std::string(name) + "': use " + one_of(known));
        out += text.substr(at, open - at) + stand_in;
        at = close + 1;
    }
    return out + text.substr(at);
}

// Values of one condition: a list, or one scalar; never empty.
std::vector<YamlValue> condition_values(const YamlValue& value) {
    auto items = value.items_or_one();
    if (items.empty()) value.fail("needs at least one value");
    return items;
}

// The pairs of a header or query condition, with keys and values checked.
std::vector<KeyValuesCondition> key_values_condition(const YamlValue& value, const char* what,
                                                     std::optional<std::string> (*check_key)(std::string_view)) {
    auto map = YamlMapping::any_keys(value);
    if (map.entries().empty()) value.fail(std::string("needs at least one ") + what);
    std::vector<KeyValuesCondition> out;
    for (const auto& entry : map.entries()) {
        KeyValuesCondition condition;
        condition.key = entry.key.node().Scalar();
        check(entry.key, check_key(condition.key));
        for (const auto& item : condition_values(entry.value)) {
            std::string text = item.scalar();
            check(item, std::string_view(what) == "header" ? check_header_value_pattern(text)
                                                          : check_query_pattern(text));
            condition.values.push_back(text);
        }
        out.push_back(std::move(condition));
    }
    return out;
}

}  // namespace

Rule Loader::load_rule(const YamlValue& value, const Listener& listener, std::map<int, int>& first_line_of_priority) {
    YamlMapping map(value, {"priority", "conditions", "action"});
    Rule rule;
    rule.pos = value.pos();
    auto priority = map.require("priority");
    rule.priority = static_cast<int>(priority.integer(1, 50000));
    auto [first, inserted] = first_line_of_priority.emplace(rule.priority, rule.pos.line);
    if (!inserted)
        priority.fail("priority " + std::to_string(rule.priority) + " is already used by the rule at line " +
                      std::to_string(first->second));
    rule.conditions = load_conditions(map.require("conditions"), listener);
    rule.action = load_action(map.require("action"), listener);
    rule.action.rule_priority = rule.priority;
    return rule;
}

Conditions Loader::load_conditions(const YamlValue& value, const Listener& listener) {
    YamlMapping map(value, {"host", "path", "method", "header", "query", "source_ip"});
    if (listener.protocol == ListenerProtocol::tls_passthrough) {
        // Before the handshake only the SNI name is known.
        for (const char* key : {"path", "method", "header", "query", "source_ip"})
            map.reject(key, "only host conditions are supported on tls_passthrough listeners");
    }
    Conditions conditions;
    if (auto host = map.get("host")) {
        for (const auto& item : condition_values(*host)) {
            std::string text = item.scalar();
            check(item, check_host_pattern(text));
            conditions.host.push_back(lower(text));  // DNS names are case-insensitive
        }
    }
    if (auto path = map.get("path")) {
        for (const auto& item : condition_values(*path)) {
            std::string text = item.scalar();
            check(item, check_path_pattern(text));
            conditions.path.push_back(text);
        }
    }
    if (auto method = map.get("method")) {
        for (const auto& item : condition_values(*method)) {
            std::string text = item.scalar();
            check(item, check_method(text));
            conditions.method.push_back(upper(text));
        }
    }
    if (auto header = map.get("header")) conditions.header = key_values_condition(*header, "header", check_header_name);
    if (auto query = map.get("query")) conditions.query = key_values_condition(*query, "query", check_query_pattern);
    if (auto source_ip = map.get("source_ip")) {
        conditions.source_ip = cidr_list(*source_ip);
        if (conditions.source_ip.empty()) source_ip->fail("needs at least one value");
    }
    if (conditions.empty()) value.fail("at least one condition is required");
    return conditions;
}

// ---------------------------------------------------------------- actions

Action Loader::load_action(const YamlValue& value, const Listener& listener) {
    YamlMapping map(value, {"forward", "redirect", "fixed_response"});
    if (map.entries().empty()) value.fail("needs one of forward, redirect or fixed_response");
    if (map.entries().size() > 1)
        map.entries()[1].key.fail("only one of forward, redirect or fixed_response is allowed");
    if (!is_http(listener.protocol)) {
        for (const char* key : {"redirect", "fixed_response"})
            map.reject(key, std::string(key) + " is only supported on http and https listeners");
    }
    Action action;
    action.pos = value.pos();
    if (auto forward = map.get("forward")) {
        action.kind = Action::Kind::forward;
        action.forward = load_forward(*forward, listener);
    } else if (auto redirect = map.get("redirect")) {
        action.kind = Action::Kind::redirect;
        action.redirect = load_redirect(*redirect, listener);
    } else {
        action.kind = Action::Kind::fixed_response;
        action.fixed_response = load_fixed_response(map.require("fixed_response"));
    }
    return action;
}

void Loader::check_target_group_reference(const YamlValue& value, const std::string& name, const Listener& listener) {
    const TargetGroup* group = config_.find_target_group(name);
    if (!group) {
        std::vector<std::string_view> names;
        for (const auto& candidate : config_.target_groups) names.push_back(candidate.name);
        std::string message = "unknown target group '" + name + "'";
        if (auto suggestion = closest_match(name, names); !suggestion.empty())
            message += " (did you mean '" + suggestion + "'?)";
        value.fail(message);
    }
    if (!can_forward(listener.protocol, group->protocol))
        value.fail(std::string(to_string(listener.protocol)) + " listener '" + listener.name + "' cannot forward to " +
                   to_string(group->protocol) + " target group '" + name + "'");
}

ForwardAction Loader::load_forward(const YamlValue& value, const Listener& listener) {
    YamlMapping map(value, {"target_group", "target_groups", "stickiness", "path_rewrite", "request_headers",
                            "response_headers"});
    ForwardAction forward;
    if (map.has("target_group")) map.reject("target_groups", "use either target_group or target_groups, not both");
    if (auto single = map.get("target_group")) {
        // Shorthand for one group with the default weight.
        std::string name = single->string();
        check_target_group_reference(*single, name, listener);
        forward.target_groups.push_back(WeightedTargetGroup{name, 1});
    } else if (auto groups = map.get("target_groups")) {
        auto items = groups->items();
        if (items.empty()) groups->fail("needs at least one target group");
        bool any_weight = false;
        for (const auto& item : items) {
            WeightedTargetGroup weighted;
            YamlValue name_value = item;
            if (item.is_scalar()) {
                weighted.name = item.string();  // "[a, b]": equal weights
            } else {
                YamlMapping item_map(item, {"name", "weight"});
                name_value = item_map.require("name");
                weighted.name = name_value.string();
                if (auto weight = item_map.get("weight")) weighted.weight = static_cast<int>(weight->integer(0, 999));
            }
            check_target_group_reference(name_value, weighted.name, listener);
            for (const auto& earlier : forward.target_groups)
                if (earlier.name == weighted.name) name_value.fail("target group '" + weighted.name + "' is listed twice");
            any_weight = any_weight || weighted.weight > 0;
            forward.target_groups.push_back(std::move(weighted));
        }
        if (!any_weight) groups->fail("at least one target group needs a weight above 0");
    } else {
        value.fail("needs target_group or target_groups");
    }
    if (!is_http(listener.protocol))
        map.reject("stickiness", "stickiness needs an http or https listener (it is a cookie)");
    if (auto stickiness = map.get("stickiness")) {
        YamlMapping sticky_map(*stickiness, {"enabled", "duration"});
        // Writing the block turns it on, as for health_check; enabled: false
        // keeps it written but off.
        forward.stickiness = true;
        if (auto enabled = sticky_map.get("enabled")) forward.stickiness = enabled->boolean();
        if (auto duration = sticky_map.get("duration"))
            forward.stickiness_duration = duration->duration(1s, std::chrono::days(7));
    }
    if (!is_http(listener.protocol)) {
        for (const char* key : {"path_rewrite", "request_headers", "response_headers"})
            map.reject(key, std::string(key) + " needs an http or https listener");
    }
    if (auto rewrite = map.get("path_rewrite")) forward.path_rewrite = load_path_rewrite(*rewrite);
    if (auto edits = map.get("request_headers")) forward.request_headers = load_header_edits(*edits, true);
    if (auto edits = map.get("response_headers")) forward.response_headers = load_header_edits(*edits, false);
    return forward;
}

RedirectAction Loader::load_redirect(const YamlValue& value, const Listener& listener) {
    YamlMapping map(value, {"protocol", "host", "port", "path", "query", "status", "response_headers"});
    RedirectAction redirect;
    if (auto protocol = map.get("protocol")) {
        std::string text = protocol->string();
        if (text != "#{protocol}") {
            text = upper(text);
            if (text != "HTTP" && text != "HTTPS")
                protocol->fail("must be HTTP, HTTPS or #{protocol}, got '" + protocol->scalar() + "'");
        }
        redirect.protocol = text;
    }
    if (auto host = map.get("host")) {
        redirect.host = host->string();
        check(*host, check_host_name(check_placeholders(*host, redirect.host, "x")));
    }
    if (auto port = map.get("port")) {
        const std::string& text = port->scalar("a port");
        if (text == "#{port}") {
            redirect.port = text;
        } else {
            redirect.port = std::to_string(port->integer(1, 65535));
        }
    }
    if (auto path = map.get("path")) {
        redirect.path = path->string();
        std::string literal = check_placeholders(*path, redirect.path, "x");
        if (literal.front() != '/') path->fail("must start with '/'");
        for (char c : literal)
            if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) path->fail("must not contain whitespace");
    }
    if (auto query = map.get("query")) {
        // Empty is allowed: it drops the query string.
        redirect.query = query->scalar();
        std::string literal = check_placeholders(*query, redirect.query, "x");
        if (!literal.empty() && literal.front() == '?') query->fail("must not start with '?'");
        for (char c : literal)
            if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f || c == '#')
                query->fail("must not contain whitespace or '#'");
    }
    if (auto status = map.get("status")) {
        // ALB spells it HTTP_301; plain 301 is what everyone else writes.
        std::string text = upper(status->scalar("a status code"));
        if (text.rfind("HTTP_", 0) == 0) text = text.substr(5);
        int code = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), code);
        bool valid = ec == std::errc() && end == text.data() + text.size() &&
                     (code == 301 || code == 302 || code == 303 || code == 307 || code == 308);
        if (!valid) status->fail("must be 301, 302, 303, 307 or 308, got " + status->describe());
        redirect.status = code;
    }
    // A redirect that changes nothing sends the client back here forever.
    // The listener's own scheme or port counts as no change.
    std::string own_protocol = listener.protocol == ListenerProtocol::https ? "HTTPS" : "HTTP";
    bool same_protocol = redirect.protocol == "#{protocol}" || redirect.protocol == own_protocol;
    bool same_port = redirect.port == "#{port}" || redirect.port == std::to_string(listener.listen.port());
    if (same_protocol && same_port && redirect.host == "#{host}" && redirect.path == "/#{path}" &&
        redirect.query == "#{query}")
        value.fail("redirect to the same URL would loop; change protocol, host, port, path or query");
    if (auto edits = map.get("response_headers")) redirect.response_headers = load_answer_headers(*edits);
    return redirect;
}

FixedResponseAction Loader::load_fixed_response(const YamlValue& value) {
    YamlMapping map(value, {"status", "content_type", "body", "response_headers"});
    FixedResponseAction response;
    if (auto edits = map.get("response_headers")) response.response_headers = load_answer_headers(*edits);
    if (auto status = map.get("status")) response.status = static_cast<int>(status->integer(200, 599));
    if (auto content_type = map.get("content_type")) {
        response.content_type = content_type->string();
        for (char c : response.content_type)
            if (static_cast<unsigned char>(c) < ' ' || c == 0x7f) content_type->fail("must not contain control characters");
    }
    if (auto body = map.get("body")) {
        response.body = body->scalar();
        if (response.body.size() > max_fixed_response_body)
            body->fail("must be at most 64k (is " + std::to_string(response.body.size()) + " bytes)");
        if (!response.body.empty() && (response.status == 204 || response.status == 304))
            body->fail("a " + std::to_string(response.status) + " response cannot have a body");
    }
    return response;
}

}  // namespace lb::conf

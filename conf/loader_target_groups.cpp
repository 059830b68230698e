// `target_groups`: each group, its stickiness, health check and targets.
#include "conf/loader.h"

#include <charconv>
#include <climits>

#include "conf/patterns.h"
#include "conf/status_matcher.h"
#include "conf/units.h"

namespace lb::conf {

TargetGroup Loader::load_target_group(const YamlValue& value) {
    YamlMapping map(value, {"name", "protocol", "algorithm", "cross_zone", "zone_weights", "deregistration_delay",
                            "slow_start", "connect_timeout", "response_timeout", "stickiness", "health_check", "tls",
                            "discovery", "targets", "hash_key", "passive_health", "retry_on", "retry_tries",
                            "retry_timeout", "retry_non_idempotent", "receive_buffer"});
    TargetGroup group;
    group.pos = value.pos();

    auto name = map.require("name");
    group.name = name.string();
    check(name, check_object_name(group.name));
    if (const TargetGroup* first = config_.find_target_group(group.name))
        name.fail("target group '" + group.name + "' is already defined at line " + std::to_string(first->pos.line));

    if (auto protocol = map.get("protocol"))
        group.protocol = choose(*protocol, kTargetProtocolNames);
    if (auto algorithm = map.get("algorithm"))
        group.algorithm = choose(*algorithm, kAlgorithmNames);
    if (group.algorithm == Algorithm::hash) {
        group.hash_key = parse_hash_key(map.require("hash_key"), group);
    } else {
        map.reject("hash_key", "hash_key needs algorithm: hash");
    }
    if (auto cross_zone = map.get("cross_zone")) group.cross_zone = cross_zone->boolean();
    if (group.cross_zone) map.reject("zone_weights", "zone_weights needs cross_zone: false");
    if (auto zone_weights = map.get("zone_weights")) {
        auto zones = YamlMapping::any_keys(*zone_weights);
        for (const auto& entry : zones.entries()) {
            if (entry.key.node().Scalar().empty()) entry.key.fail("zone name must not be empty");
            group.zone_weights[entry.key.node().Scalar()] = static_cast<int>(entry.value.integer(1, INT_MAX));
        }
    }
    if (auto delay = map.get("deregistration_delay")) group.deregistration_delay = delay->duration(0s, 3600s);
    // ALB allows 30s..900s; shorter ramps are allowed here so tests and small
    // fleets can use them, the 15 minute ceiling is kept.
    if (auto slow_start = map.get("slow_start")) group.slow_start = slow_start->duration(0s, 15min);
    if (auto timeout = map.get("connect_timeout")) group.connect_timeout = timeout->duration(1ms, max_duration);
    if (auto timeout = map.get("response_timeout")) group.response_timeout = timeout->duration(1ms, max_duration);
    if (group.protocol == TargetProtocol::udp)
        map.reject("receive_buffer", "receive_buffer is for TCP connections; it does not apply to udp target groups");
    // The kernel caps SO_RCVBUF at net.core.rmem_max without an error; the
    // ceiling here only refuses what no kernel would give.
    if (auto size = map.get("receive_buffer"))
        group.receive_buffer = static_cast<uint32_t>(size->size(4 * 1024, 256 * 1024 * 1024));
    if (auto stickiness = map.get("stickiness")) {
        load_stickiness(*stickiness, group);
        if (group.algorithm == Algorithm::hash && group.stickiness.type == Stickiness::Type::source_ip)
            stickiness->fail("source_ip stickiness would replace algorithm: hash's hash_key; use one of them");
    }
    if (auto health_check = map.get("health_check")) load_health_check(*health_check, group);
    if (auto passive = map.get("passive_health")) {
        YamlMapping passive_map(*passive, {"max_fails", "fail_timeout"});
        group.passive_health.max_fails = static_cast<int>(passive_map.require("max_fails").integer(0, 100));
        if (auto timeout = passive_map.get("fail_timeout"))
            group.passive_health.fail_timeout = timeout->duration(1s, 3600s);
    }
    load_retry(map, group);

    if (group.protocol != TargetProtocol::https) map.reject("tls", "tls is only allowed on https target groups");
    if (auto tls = map.get("tls")) {
        YamlMapping tls_map(*tls, {"verify", "ca_file", "server_name"});
        if (auto verify = tls_map.get("verify")) group.tls.verify = verify->boolean();
        if (auto ca_file = tls_map.get("ca_file")) group.tls.ca_file = readable_file(*ca_file);
        if (auto server_name = tls_map.get("server_name")) {
            group.tls.server_name = server_name->string();
            check(*server_name, check_host_name(group.tls.server_name));
        }
    }

    if (auto discovery = map.get("discovery")) {
        YamlMapping discovery_map(*discovery, {"srv", "refresh"});
        auto srv = discovery_map.require("srv");
        group.discovery.srv = srv.string();
        check(srv, check_dns_name(group.discovery.srv));
        if (auto refresh = discovery_map.get("refresh")) group.discovery.refresh = refresh->duration(1s, std::chrono::days(1));
        // One source of targets per group: with both, which one a target
        // came from (and which wins when they disagree) would be a guess.
        map.reject("targets", "a group takes its targets from discovery or from targets, not both");
    }
    if (auto targets = map.get("targets")) {
        // An empty list is fine: the group answers 503 until targets appear.
        for (const auto& item : targets->items()) group.targets.push_back(load_target(item, group));
    }
    return group;
}

void Loader::load_retry(const YamlMapping& map, TargetGroup& group) {
    Retry& retry = group.retry;
    const bool http = group.protocol == TargetProtocol::http || group.protocol == TargetProtocol::https;
    if (group.protocol == TargetProtocol::udp) {
        for (const char* key : {"retry_on", "retry_tries", "retry_timeout", "retry_non_idempotent"})
            map.reject(key, std::string(key) + " does not apply to udp target groups");
    }
    if (!http) {
        map.reject("retry_timeout", "retry_timeout applies to http and https target groups");
        map.reject("retry_non_idempotent", "retry_non_idempotent applies to http and https target groups");
    }
    if (auto on = map.get("retry_on")) {
        retry.connect_failure = false;
        for (const auto& item : on->items()) {
            const std::string& text = item.scalar();
            if (text == "connect_failure") {
                retry.connect_failure = true;
            } else if (!http) {
                item.fail("tcp target groups retry only on connect_failure");
            } else if (text == "timeout") {
                retry.timeout = true;
            } else {
                int status = static_cast<int>(item.integer(400, 599));
                if (retry.on_status(status)) item.fail("status " + text + " is listed twice");
                retry.statuses.push_back(status);
            }
        }
    }
    if (auto tries = map.get("retry_tries")) retry.tries = static_cast<int>(tries->integer(1, 10));
    if (auto timeout = map.get("retry_timeout")) retry.timeout_budget = timeout->duration(0s, 3600s);
    if (auto non_idempotent = map.get("retry_non_idempotent")) retry.non_idempotent = non_idempotent->boolean();
}

HashKey Loader::parse_hash_key(const YamlValue& value, const TargetGroup& group) {
    HashKey key;
    const std::string& text = value.scalar();
    const bool http = group.protocol == TargetProtocol::http || group.protocol == TargetProtocol::https;
    size_t colon = text.find(':');
    std::string kind = colon == std::string::npos ? text : text.substr(0, colon);
    std::string name = colon == std::string::npos ? std::string() : text.substr(colon + 1);
    if (kind == "header" || kind == "cookie" || kind == "query") {
        if (!http) value.fail(kind + " keys need an http or https target group; use client_ip");
        if (name.empty()) value.fail("'" + kind + ":' needs a name, e.g. " + kind + ":X");
        if (kind == "header") {
            key.kind = HashKey::Kind::header;
            check(value, check_header_name(name));
            name = lower(name);
        } else if (kind == "cookie") {
            key.kind = HashKey::Kind::cookie;
            check(value, check_cookie_name(name));
        } else {
            key.kind = HashKey::Kind::query;
            for (char c : name)
                if (static_cast<unsigned char>(c) <= ' ' || c == '&' || c == '=' || c == '#' || c == 0x7f)
                    value.fail("query key must not contain whitespace, '&', '=' or '#'");
        }
        key.name = name;
        return key;
    }
    if (text.starts_with("client_ip")) {
        key.kind = HashKey::Kind::client_ip;
        std::string_view rest = std::string_view(text).substr(9);
        int* prefixes[] = {&key.ipv4_prefix, &key.ipv6_prefix};
        int limits[] = {32, 128};
        for (int i = 0; i < 2 && !rest.empty(); ++i) {
            if (rest.front() != '/') break;
            rest.remove_prefix(1);
            size_t end = 0;
            int bits = 0;
            while (end < rest.size() && rest[end] >= '0' && rest[end] <= '9' && end < 4)
                bits = bits * 10 + (rest[end++] - '0');
            if (end == 0 || bits > limits[i])
                value.fail("client_ip prefix lengths are client_ip/0..32 for IPv4 and client_ip/V4/0..128 for IPv6");
            *prefixes[i] = bits;
            rest.remove_prefix(end);
        }
        if (rest.empty()) return key;
    }
    value.fail("hash_key must be header:NAME, cookie:NAME, query:NAME or client_ip[/v4bits[/v6bits]], got '" + text +
               "'");
}

void Loader::load_stickiness(const YamlValue& value, TargetGroup& group) {
    YamlMapping map(value, {"type", "duration", "cookie_name"});
    Stickiness& stickiness = group.stickiness;
    auto type = map.require("type");
    stickiness.type = choose(type, kStickinessTypeNames);
    if (stickiness.type == Stickiness::Type::source_ip) {
        // Maglev hashing has no expiry and no cookie; accepting these keys
        // would suggest otherwise.
        map.reject("duration", "duration does not apply to source_ip stickiness");
        map.reject("cookie_name", "cookie_name does not apply to source_ip stickiness");
        return;
    }
    if (group.protocol != TargetProtocol::http && group.protocol != TargetProtocol::https)
        type.fail(type.scalar() + " stickiness needs an http or https target group");
    if (auto duration = map.get("duration")) stickiness.duration = duration->duration(1s, std::chrono::days(7));
    std::optional<YamlValue> cookie = map.get("cookie_name");
    if (stickiness.type == Stickiness::Type::app_cookie) {
        cookie = map.require("cookie_name");
        stickiness.cookie_name = cookie->scalar();
    } else {
        stickiness.cookie_name = cookie ? cookie->scalar() : "LBSTICKY";
    }
    const YamlValue& where = cookie ? *cookie : type;
    check(where, check_cookie_name(stickiness.cookie_name));
    // lb strips its own cookies from requests: an application cookie of the
    // same name would never reach the application.
    const std::string& name = stickiness.cookie_name;
    if (name == "LBTG" || name.starts_with("LBAPP-"))
        where.fail("cookie name '" + name + "' is reserved for lb's own cookies (LBTG, LBAPP-*)");
    for (const auto& other : config_.target_groups) {
        const Stickiness& theirs = other.stickiness;
        if (theirs.cookie_name != name || theirs.type == stickiness.type) continue;
        where.fail("cookie name '" + name + "' is target group '" + other.name + "''s " +
                   (theirs.type == Stickiness::Type::app_cookie ? "application cookie" : "lb_cookie") +
                   " (line " + std::to_string(other.pos.line) +
                   "): lb would take the application's cookie for its own");
    }
}

void Loader::load_health_check(const YamlValue& value, TargetGroup& group) {
    YamlMapping map(value, {"enabled", "protocol", "path", "port", "interval", "timeout", "healthy_threshold",
                            "unhealthy_threshold", "matcher"});
    HealthCheck& check_config = group.health_check;
    check_config.enabled = true;  // writing the key is asking for checks
    if (auto enabled = map.get("enabled")) check_config.enabled = enabled->boolean();

    // Default: the group's own protocol. UDP has no probe of its own, and a
    // TCP probe on the traffic port rarely answers, so it must be chosen.
    switch (group.protocol) {
        case TargetProtocol::http: check_config.protocol = HealthCheck::Protocol::http; break;
        case TargetProtocol::https: check_config.protocol = HealthCheck::Protocol::https; break;
        case TargetProtocol::tcp: check_config.protocol = HealthCheck::Protocol::tcp; break;
        case TargetProtocol::udp:
            if (check_config.enabled && !map.has("protocol"))
                value.fail("missing required key 'protocol' (udp target groups need an http, https or tcp check)");
            break;
    }
    if (auto protocol = map.get("protocol"))
        check_config.protocol = choose(*protocol, kHealthCheckProtocolNames);
    if (check_config.protocol == HealthCheck::Protocol::tcp) {
        map.reject("path", "path only applies to http and https health checks");
        map.reject("matcher", "matcher only applies to http and https health checks");
    }
    if (auto path = map.get("path")) {
        check_config.path = path->string();
        if (check_config.path.front() != '/') path->fail("must start with '/'");
        for (char c : check_config.path)
            if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) path->fail("must not contain whitespace");
    }
    if (auto port = map.get("port")) {
        const std::string& text = port->scalar("a port");
        if (lower(text) != "traffic-port") {
            long long number = 0;
            auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
            if (text.empty() || ec != std::errc() || end != text.data() + text.size() || number < 1 || number > 65535)
                port->fail("must be traffic-port or a port between 1 and 65535, got " + port->describe());
            check_config.port = static_cast<uint16_t>(number);
        }
    }
    if (auto interval = map.get("interval")) check_config.interval = interval->duration(1s, 300s);
    if (auto timeout = map.get("timeout")) {
        check_config.timeout = timeout->duration(1ms, max_duration);
        if (check_config.timeout >= check_config.interval)
            timeout->fail("must be less than interval (" + format_duration(check_config.interval) + ")");
    } else if (check_config.timeout >= check_config.interval) {
        // Only the interval was shortened: keep the default timeout inside it
        // rather than fail on a key the operator never wrote.
        check_config.timeout = check_config.interval / 2;
    }
    if (auto healthy = map.get("healthy_threshold"))
        check_config.healthy_threshold = static_cast<int>(healthy->integer(2, 10));
    if (auto unhealthy = map.get("unhealthy_threshold"))
        check_config.unhealthy_threshold = static_cast<int>(unhealthy->integer(2, 10));
    if (auto matcher = map.get("matcher")) {
        std::string text = matcher->string();
        auto ranges = parse_status_matcher(text);
        if (!ranges)
            matcher->fail("invalid matcher '" + text +
                          "': use codes 100-599 like \"200\", \"200-399\" or \"200,204\"");
        check_config.matcher = text;
        check_config.matcher_ranges = *ranges;
    }
}

Target Loader::load_target(const YamlValue& value, const TargetGroup& group) {
    YamlMapping map(value, {"address", "port", "weight", "zone", "backup"});
    Target target;
    target.pos = value.pos();
    auto address = map.require("address");
    target.address = address.string();
    target.port = static_cast<uint16_t>(map.require("port").integer(1, 65535));
    if (auto ip = SocketAddress::from_ip(target.address, target.port)) {
        if (const char* why = ip->unusable_as_target()) address.fail(why);
        target.addr = *ip;
    } else {
        if (SocketAddress::parse(target.address))
            address.fail("must be an IP address or a DNS name without a port; put the port in 'port'");
        // A DNS name: every address it resolves to is a target, followed
        // live (README "Targets by DNS name").
        if (auto why = check_dns_name(target.address))
            address.fail("must be an IPv4 or IPv6 address or a DNS name, got '" + target.address + "': " + *why);
    }
    if (auto weight = map.get("weight")) target.weight = static_cast<int>(weight->integer(0, 1000));
    if (auto zone = map.get("zone")) target.zone = zone->string();
    if (auto backup = map.get("backup")) target.backup = backup->boolean();
    for (const auto& other : group.targets) {
        bool same = target.is_name() ? other.is_name() && other.port == target.port &&
                                           lower(other.address) == lower(target.address)
                                     : other.addr == target.addr;
        if (same)
            value.fail("duplicate target " +
                       (target.is_name() ? target.address + ":" + std::to_string(target.port) : target.addr.to_string()) +
                       " (first at line " + std::to_string(other.pos.line) + ")");
    }
    return target;
}

}  // namespace lb::conf

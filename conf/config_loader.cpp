// The YAML schema of DESIGN.md section 4, checked key by key. Each check
// fails at the node it is about; yaml_reader.h supplies positions, key paths,
// types and unknown-key detection. Where the design is silent the choice is
// the one an nginx / HAProxy / ALB operator would expect, noted in place.
#include "conf/config_loader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <climits>
#include <filesystem>
#include <map>
#include <sstream>
#include <system_error>

#include "conf/patterns.h"
#include "conf/status_matcher.h"
#include "conf/units.h"
#include "conf/yaml_reader.h"

namespace lb::conf {

namespace {

namespace fs = std::filesystem;

constexpr uint64_t max_fixed_response_body = 64 * 1024;

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
    return text;
}

std::string upper(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::toupper(c); });
    return text;
}

// "a, b or c"
std::string one_of(const std::vector<std::string_view>& names) {
    std::string out;
    for (size_t i = 0; i < names.size(); ++i) {
        if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
        out += names[i];
    }
    return out;
}

// An enum-like value. Case-insensitive because ALB users write "HTTP".
template <class E>
E choose(const YamlValue& value, std::initializer_list<std::pair<std::string_view, E>> choices) {
    std::string text = lower(value.string());
    std::vector<std::string_view> names;
    for (const auto& [name, choice] : choices) {
        if (text == name) return choice;
        names.push_back(name);
    }
    value.fail("must be " + one_of(names) + ", got '" + value.scalar() + "'");
}

// Fails with the reason a pattern check gave, at the value.
void check(const YamlValue& value, const std::optional<std::string>& error) {
    if (error) value.fail(*error);
}

bool is_unspecified(const SocketAddress& address) {
    auto bytes = address.ip_bytes();
    size_t from = address.family() == AF_INET ? 12 : 0;  // IPv4 is stored mapped
    return std::all_of(bytes.begin() + static_cast<long>(from), bytes.end(), [](uint8_t b) { return b == 0; });
}

bool is_loopback(const SocketAddress& address) {
    auto bytes = address.ip_bytes();
    static const std::array<uint8_t, 16> v6_loopback{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    bool v4_mapped = std::all_of(bytes.begin(), bytes.begin() + 10, [](uint8_t b) { return b == 0; }) &&
                     bytes[10] == 0xff && bytes[11] == 0xff;
    return bytes == v6_loopback || (v4_mapped && bytes[12] == 127);
}

// Would both sockets claim the same packets? A wildcard bind covers every
// address of its family. [::] is taken as IPv6-only (as nginx binds it), so
// "0.0.0.0:80" plus "[::]:80" is the usual dual-stack pair, not a clash.
bool overlaps(const SocketAddress& a, const SocketAddress& b) {
    if (a.port() != b.port() || a.family() != b.family()) return false;
    return a == b || is_unspecified(a) || is_unspecified(b);
}

bool is_http(ListenerProtocol protocol) {
    return protocol == ListenerProtocol::http || protocol == ListenerProtocol::https;
}

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

SocketAddress listen_address(const YamlValue& value) {
    const std::string text = value.string();
    auto address = SocketAddress::parse(text);
    if (!address) value.fail("invalid address '" + text + "': use ip:port, [ipv6]:port or *:port");
    if (address->port() == 0) value.fail("port must be between 1 and 65535");
    return *address;
}

std::vector<Cidr> cidr_list(const YamlValue& value) {
    std::vector<Cidr> out;
    for (const auto& item : value.items_or_one()) {
        std::string text = item.string();
        auto cidr = Cidr::parse(text);
        if (!cidr) item.fail("invalid CIDR '" + text + "'");
        out.push_back(*cidr);
    }
    return out;
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

class Loader {
public:
    Loader(std::string file, fs::path base_dir) : file_(std::move(file)), base_dir_(std::move(base_dir)) {}

    Config load(const YAML::Node& root_node);

private:
    void load_global(const YamlValue& value);
    void load_admin(const YamlValue& value);
    TargetGroup load_target_group(const YamlValue& value);
    void load_stickiness(const YamlValue& value, TargetGroup& group);
    void load_health_check(const YamlValue& value, TargetGroup& group);
    Target load_target(const YamlValue& value, const TargetGroup& group);
    Listener load_listener(const YamlValue& value);
    ListenerTls load_listener_tls(const YamlValue& value);
    // first_line_of_priority: priorities seen so far in this listener.
    Rule load_rule(const YamlValue& value, const Listener& listener, std::map<int, int>& first_line_of_priority);
    Conditions load_conditions(const YamlValue& value, const Listener& listener);
    Action load_action(const YamlValue& value, const Listener& listener);
    ForwardAction load_forward(const YamlValue& value, const Listener& listener);
    RedirectAction load_redirect(const YamlValue& value, const Listener& listener);
    FixedResponseAction load_fixed_response(const YamlValue& value);
    void check_target_group_reference(const YamlValue& value, const std::string& name, const Listener& listener);

    // Relative paths are read against the config file's directory (as
    // HAProxy does), so a config and its files move together.
    std::string resolve_path(const YamlValue& value);
    // resolve_path, plus the file must exist and be readable now.
    std::string readable_file(const YamlValue& value);

    std::string file_;
    fs::path base_dir_;
    Config config_;
};

Config Loader::load(const YAML::Node& root_node) {
    YamlValue root(file_, root_node, root_node.Mark(), "");
    if (root.is_null()) root.fail("at least one listener is required");
    YamlMapping top(root, {"global", "listeners", "target_groups"});
    config_.path = file_;

    config_.global.pos = root.with_path("global").pos();
    if (auto global = top.get("global")) load_global(*global);

    // Target groups first so listeners can check references as they go,
    // whatever order the sections are written in.
    if (auto groups = top.get("target_groups"))
        for (const auto& item : groups->items()) config_.target_groups.push_back(load_target_group(item));

    auto listeners = top.get("listeners");
    if (!listeners) root.fail("at least one listener is required");
    auto items = listeners->items();
    if (items.empty()) listeners->fail("at least one listener is required");
    for (const auto& item : items) config_.listeners.push_back(load_listener(item));
    return std::move(config_);
}

std::string Loader::resolve_path(const YamlValue& value) {
    fs::path path(value.string());
    if (path.is_relative()) path = base_dir_ / path;
    return path.lexically_normal().string();
}

std::string Loader::readable_file(const YamlValue& value) {
    std::string path = resolve_path(value);
    // O_NONBLOCK: a FIFO given by mistake must not hang the check.
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) value.fail("cannot read '" + path + "': " + std::error_code(errno, std::system_category()).message());
    struct stat st {};
    bool directory = ::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
    ::close(fd);
    if (directory) value.fail("'" + path + "' is a directory, not a file");
    return path;
}

// ---------------------------------------------------------------- global

void Loader::load_global(const YamlValue& value) {
    YamlMapping map(value, {"workers", "zone", "max_connections", "shutdown_timeout", "pid_file", "access_log", "admin",
                            "sticky_secret_file"});
    Global& global = config_.global;
    global.pos = value.pos();

    if (auto workers = map.get("workers")) {
        const std::string& text = workers->scalar("auto or a number");
        if (lower(text) == "auto") {
            global.workers = 0;
        } else {
            long long count = 0;
            auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), count);
            if (text.empty() || ec != std::errc() || end != text.data() + text.size() || count < 1 || count > 1024)
                workers->fail("must be auto or a number between 1 and 1024, got " + workers->describe());
            global.workers = static_cast<int>(count);
        }
    }
    if (auto zone = map.get("zone")) global.zone = zone->string();
    if (auto max = map.get("max_connections")) global.max_connections = static_cast<int>(max->integer(1, INT_MAX));
    if (auto timeout = map.get("shutdown_timeout")) global.shutdown_timeout = timeout->duration(0s, max_duration);
    // Written by lb, so it need not exist; relative like every other path.
    if (auto pid_file = map.get("pid_file")) global.pid_file = resolve_path(*pid_file);

    if (auto log = map.get("access_log")) {
        // "access_log: off" as in nginx.
        if (log->is_scalar() && lower(log->scalar()) == "off") {
            global.access_log.format = AccessLogFormat::off;
        } else {
            YamlMapping log_map(*log, {"path", "format"});
            if (auto path = log_map.get("path")) {
                std::string text = path->string();
                global.access_log.path = text == "stdout" || text == "stderr" ? text : resolve_path(*path);
            }
            if (auto format = log_map.get("format"))
                global.access_log.format = choose<AccessLogFormat>(*format, {{"json", AccessLogFormat::json},
                                                            {"combined", AccessLogFormat::combined},
                                                            {"off", AccessLogFormat::off}});
        }
    }
    if (auto admin = map.get("admin")) load_admin(*admin);
    if (auto secret = map.get("sticky_secret_file")) global.sticky_secret_file = readable_file(*secret);
}

void Loader::load_admin(const YamlValue& value) {
    YamlMapping map(value, {"listen", "token_file", "enabled"});
    Admin& admin = config_.global.admin;
    if (auto enabled = map.get("enabled")) admin.enabled = enabled->boolean();
    if (auto token = map.get("token_file")) admin.token_file = readable_file(*token);
    if (auto listen = map.get("listen")) {
        admin.listen = listen_address(*listen);
        // The admin API can drain targets and reload: off loopback it must
        // not be open to whoever can reach the port.
        if (admin.enabled && admin.token_file.empty() && !is_loopback(admin.listen))
            listen->fail("a non-loopback admin address needs token_file");
    }
}

// ---------------------------------------------------------------- target groups

TargetGroup Loader::load_target_group(const YamlValue& value) {
    YamlMapping map(value, {"name", "protocol", "algorithm", "cross_zone", "zone_weights", "deregistration_delay",
                            "slow_start", "connect_timeout", "response_timeout", "stickiness", "health_check", "tls",
                            "targets"});
    TargetGroup group;
    group.pos = value.pos();

    auto name = map.require("name");
    group.name = name.string();
    check(name, check_object_name(group.name));
    if (const TargetGroup* first = config_.find_target_group(group.name))
        name.fail("target group '" + group.name + "' is already defined at line " + std::to_string(first->pos.line));

    if (auto protocol = map.get("protocol"))
        group.protocol = choose<TargetProtocol>(*protocol, {{"http", TargetProtocol::http},
                                            {"https", TargetProtocol::https},
                                            {"tcp", TargetProtocol::tcp},
                                            {"udp", TargetProtocol::udp}});
    if (auto algorithm = map.get("algorithm"))
        group.algorithm = choose<Algorithm>(*algorithm, {{"round_robin", Algorithm::round_robin},
                                              {"least_outstanding_requests", Algorithm::least_outstanding_requests},
                                              {"weighted_random", Algorithm::weighted_random},
                                              {"source_ip_hash", Algorithm::source_ip_hash}});
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
    if (auto stickiness = map.get("stickiness")) load_stickiness(*stickiness, group);
    if (auto health_check = map.get("health_check")) load_health_check(*health_check, group);

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

    if (auto targets = map.get("targets")) {
        // An empty list is fine: the group answers 503 until targets appear.
        for (const auto& item : targets->items()) group.targets.push_back(load_target(item, group));
    }
    return group;
}

void Loader::load_stickiness(const YamlValue& value, TargetGroup& group) {
    YamlMapping map(value, {"type", "duration", "cookie_name"});
    Stickiness& stickiness = group.stickiness;
    auto type = map.require("type");
    stickiness.type = choose<Stickiness::Type>(type, {{"lb_cookie", Stickiness::Type::lb_cookie},
                                    {"app_cookie", Stickiness::Type::app_cookie},
                                    {"source_ip", Stickiness::Type::source_ip}});
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
        check_config.protocol = choose<HealthCheck::Protocol>(*protocol, {{"http", HealthCheck::Protocol::http},
                                                   {"https", HealthCheck::Protocol::https},
                                                   {"tcp", HealthCheck::Protocol::tcp}});
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
    YamlMapping map(value, {"address", "port", "weight", "zone"});
    Target target;
    target.pos = value.pos();
    auto address = map.require("address");
    target.address = address.string();
    // IP literals only: resolving names at load time would pin whatever DNS
    // said once, which is worse than refusing.
    if (!SocketAddress::from_ip(target.address, 0)) {
        if (SocketAddress::parse(target.address))
            address.fail("must be an IP address without a port; put the port in 'port'");
        address.fail("must be an IPv4 or IPv6 address, got '" + target.address + "'");
    }
    if (const char* why = SocketAddress::from_ip(target.address, 0)->unusable_as_target()) address.fail(why);
    target.port = static_cast<uint16_t>(map.require("port").integer(1, 65535));
    target.addr = *SocketAddress::from_ip(target.address, target.port);
    if (auto weight = map.get("weight")) target.weight = static_cast<int>(weight->integer(0, 1000));
    if (auto zone = map.get("zone")) target.zone = zone->string();
    for (const auto& other : group.targets)
        if (other.addr == target.addr)
            value.fail("duplicate target " + target.addr.to_string() + " (first at line " +
                       std::to_string(other.pos.line) + ")");
    return target;
}

// ---------------------------------------------------------------- listeners

Listener Loader::load_listener(const YamlValue& value) {
    YamlMapping map(value, {"name", "protocol", "listen", "idle_timeout", "header_timeout", "tunnel_idle_timeout",
                            "max_header_size", "max_body_size", "max_connections", "allow", "rules", "default_action",
                            "tls", "proxy_protocol", "accept_proxy_protocol", "trusted_proxies", "tcp_keepalive",
                            "udp", "path_normalization", "client_limits"});
    Listener listener;
    listener.pos = value.pos();

    auto name = map.require("name");
    listener.name = name.string();
    check(name, check_object_name(listener.name));
    for (const auto& other : config_.listeners)
        if (other.name == listener.name)
            name.fail("listener '" + listener.name + "' is already defined at line " + std::to_string(other.pos.line));

    if (auto protocol = map.get("protocol"))
        listener.protocol = choose<ListenerProtocol>(*protocol, {{"http", ListenerProtocol::http},
                                               {"https", ListenerProtocol::https},
                                               {"tcp", ListenerProtocol::tcp},
                                               {"tls_passthrough", ListenerProtocol::tls_passthrough},
                                               {"udp", ListenerProtocol::udp}});
    const ListenerProtocol protocol = listener.protocol;
    const std::string protocol_name = to_string(protocol);
    const bool udp = protocol == ListenerProtocol::udp;

    auto listen = map.require("listen");
    listener.listen = listen_address(listen);
    // A UDP and a stream socket may share an address; two of a kind may not.
    for (const auto& other : config_.listeners) {
        if ((other.protocol == ListenerProtocol::udp) != udp || !overlaps(other.listen, listener.listen)) continue;
        std::string where = "listener '" + other.name + "' (line " + std::to_string(other.pos.line) + ")";
        if (other.listen == listener.listen)
            listen.fail(listener.listen.to_string() + " is already used by " + where);
        listen.fail(listener.listen.to_string() + " overlaps " + other.listen.to_string() + " of " + where);
    }
    const Admin& admin = config_.global.admin;
    if (!udp && admin.enabled && overlaps(admin.listen, listener.listen))
        listen.fail(listener.listen.to_string() + " overlaps the admin address " + admin.listen.to_string());

    // Keys that exist in the schema but mean nothing for this protocol are
    // errors, so nobody believes a setting is in force when it is not.
    // The PROXY header is read first on any stream listener, so it needs a
    // time limit even where no other header exists.
    if (auto accept = map.get("accept_proxy_protocol")) listener.accept_proxy_protocol = accept->boolean();
    if (!is_http(protocol) && protocol != ListenerProtocol::tls_passthrough && !listener.accept_proxy_protocol)
        map.reject("header_timeout", "header_timeout only applies to http, https and tls_passthrough listeners "
                                     "(and tcp listeners with accept_proxy_protocol: true)");
    if (!is_http(protocol)) {
        for (const char* key : {"tunnel_idle_timeout", "max_header_size", "max_body_size", "path_normalization"})
            map.reject(key, std::string(key) + " only applies to http and https listeners");
    }
    if (udp) {
        map.reject("idle_timeout", "use udp.idle_timeout on udp listeners");
        map.reject("max_connections", "use udp.max_flows on udp listeners");
        map.reject("tcp_keepalive", "tcp_keepalive does not apply to udp listeners");
        map.reject("accept_proxy_protocol", "accept_proxy_protocol is not supported on udp listeners");
        map.reject("trusted_proxies", "trusted_proxies does not apply to udp listeners");
        map.reject("client_limits", "client_limits does not apply to udp listeners (see udp.max_flows)");
    } else {
        map.reject("udp", "udp settings only apply to udp listeners");
    }
    if (protocol == ListenerProtocol::tcp || udp)
        map.reject("rules", "rules are not supported on " + protocol_name + " listeners");
    if (protocol != ListenerProtocol::https) map.reject("tls", "tls is only allowed on https listeners");
    if (protocol != ListenerProtocol::tcp && protocol != ListenerProtocol::tls_passthrough)
        map.reject("proxy_protocol", "proxy_protocol is only supported on tcp and tls_passthrough listeners");

    // L4 connections idle longer than HTTP keep-alives: NLB's 350s, not ALB's 60s.
    if (protocol == ListenerProtocol::tcp || protocol == ListenerProtocol::tls_passthrough)
        listener.idle_timeout = 350s;
    if (auto timeout = map.get("idle_timeout")) listener.idle_timeout = timeout->duration(1ms, max_duration);
    if (auto timeout = map.get("header_timeout")) listener.header_timeout = timeout->duration(1ms, max_duration);
    if (auto timeout = map.get("tunnel_idle_timeout"))
        listener.tunnel_idle_timeout = timeout->duration(1ms, max_duration);
    // Below 1k no browser request fits; above 1m a header buffer per
    // connection stops being cheap.
    if (auto size = map.get("max_header_size")) listener.max_header_size = size->size(1024, 1024 * 1024);
    if (auto size = map.get("max_body_size")) listener.max_body_size = size->size(0, UINT64_MAX);
    if (auto max = map.get("max_connections")) listener.max_connections = static_cast<int>(max->integer(0, INT_MAX));
    if (auto allow = map.get("allow")) {
        listener.allow = cidr_list(*allow);
        // An empty allow list reads like "nobody" but the model means
        // "everyone"; make the operator say which.
        if (listener.allow.empty()) allow->fail("needs at least one CIDR (leave allow out to accept everyone)");
    }
    // Without a PROXY header only HTTP has a client address to trust (X-Forwarded-For).
    if (!is_http(protocol) && !listener.accept_proxy_protocol)
        map.reject("trusted_proxies", "trusted_proxies on " + protocol_name +
                                          " listeners only applies with accept_proxy_protocol: true");
    if (auto trusted = map.get("trusted_proxies")) {
        listener.trusted_proxies = cidr_list(*trusted);
        if (listener.trusted_proxies.empty()) trusted->fail("needs at least one CIDR");
    }
    if (auto accept = map.get("accept_proxy_protocol")) {
        if (listener.accept_proxy_protocol && listener.trusted_proxies.empty())
            accept->fail("accept_proxy_protocol needs trusted_proxies (who may send the PROXY header)");
    }
    if (auto proxy = map.get("proxy_protocol"))
        listener.proxy_protocol = choose<ProxyProtocol>(*proxy, {{"v1", ProxyProtocol::v1},
                                                  {"v2", ProxyProtocol::v2},
                                                  {"none", ProxyProtocol::none}});
    if (auto keepalive = map.get("tcp_keepalive")) {
        YamlMapping keepalive_map(*keepalive, {"enabled", "idle", "interval", "count"});
        TcpKeepalive& out = listener.tcp_keepalive;
        if (auto enabled = keepalive_map.get("enabled")) out.enabled = enabled->boolean();
        // The kernel takes whole seconds, at most 32767 (MAX_TCP_KEEPIDLE).
        for (auto [key, field] : {std::pair{"idle", &out.idle}, std::pair{"interval", &out.interval}}) {
            if (auto v = keepalive_map.get(key)) {
                *field = v->duration(1s, 32767s);
                if (field->count() % 1000 != 0) v->fail("must be a whole number of seconds");
            }
        }
        if (auto count = keepalive_map.get("count")) out.count = static_cast<int>(count->integer(1, 127));
    }
    if (auto normalization = map.get("path_normalization")) {
        YamlMapping normalization_map(*normalization, {"merge_slashes", "forward"});
        PathNormalization& out = listener.path_normalization;
        if (auto merge = normalization_map.get("merge_slashes")) out.merge_slashes = merge->boolean();
        if (auto forward = normalization_map.get("forward"))
            out.forward_normalized = choose<bool>(*forward, {{"normalized", true}, {"original", false}});
    }
    if (auto limits = map.get("client_limits")) {
        YamlMapping limits_map(*limits, {"connections", "connection_rate", "request_rate"});
        ClientLimits& out = listener.client_limits;
        if (auto connections = limits_map.get("connections"))
            out.connections = static_cast<int>(connections->integer(0, 1000000));
        auto rate = [](const YamlValue& value, ClientRate& rate) {
            YamlMapping rate_map(value, {"per_second", "burst"});
            rate.per_second = static_cast<uint32_t>(rate_map.require("per_second").integer(1, 1000000));
            rate.burst = rate.per_second;
            if (auto burst = rate_map.get("burst")) rate.burst = static_cast<uint32_t>(burst->integer(1, 1000000));
        };
        if (auto connection_rate = limits_map.get("connection_rate")) rate(*connection_rate, out.connection_rate);
        if (!is_http(protocol))
            limits_map.reject("request_rate", "request_rate only applies to http and https listeners");
        if (auto request_rate = limits_map.get("request_rate")) rate(*request_rate, out.request_rate);
    }
    if (auto udp_settings = map.get("udp")) {
        YamlMapping udp_map(*udp_settings, {"idle_timeout", "max_flows"});
        if (auto timeout = udp_map.get("idle_timeout")) listener.udp.idle_timeout = timeout->duration(1ms, max_duration);
        if (auto flows = udp_map.get("max_flows")) listener.udp.max_flows = static_cast<int>(flows->integer(1, INT_MAX));
    }
    if (protocol == ListenerProtocol::https) listener.tls = load_listener_tls(map.require("tls"));

    if (auto rules = map.get("rules")) {
        std::map<int, int> first_line_of_priority;
        for (const auto& item : rules->items())
            listener.rules.push_back(load_rule(item, listener, first_line_of_priority));
        std::stable_sort(listener.rules.begin(), listener.rules.end(),
                         [](const Rule& a, const Rule& b) { return a.priority < b.priority; });
    }
    listener.default_action = load_action(map.require("default_action"), listener);
    return listener;
}

ListenerTls Loader::load_listener_tls(const YamlValue& value) {
    YamlMapping map(value, {"certificates", "policy", "handshake_timeout"});
    ListenerTls tls;
    auto certificates = map.require("certificates");
    for (const auto& item : certificates.items()) {
        YamlMapping certificate_map(item, {"cert", "key"});
        Certificate certificate;
        certificate.pos = item.pos();
        certificate.cert = readable_file(certificate_map.require("cert"));
        certificate.key = readable_file(certificate_map.require("key"));
        tls.certificates.push_back(std::move(certificate));
    }
    if (tls.certificates.empty()) certificates.fail("needs at least one certificate");
    if (auto policy = map.get("policy")) {
        std::string name = lower(policy->string());
        if (name != "recommended" && name != "modern" && name != "compat")
            policy->fail("must be recommended, modern or compat, got '" + policy->scalar() + "'");
        tls.policy = name;
    }
    if (auto timeout = map.get("handshake_timeout")) tls.handshake_timeout = timeout->duration(1ms, max_duration);
    return tls;
}

// ---------------------------------------------------------------- rules

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
    YamlMapping map(value, {"target_group", "target_groups", "stickiness"});
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
    return forward;
}

RedirectAction Loader::load_redirect(const YamlValue& value, const Listener& listener) {
    YamlMapping map(value, {"protocol", "host", "port", "path", "query", "status"});
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
    return redirect;
}

FixedResponseAction Loader::load_fixed_response(const YamlValue& value) {
    YamlMapping map(value, {"status", "content_type", "body"});
    FixedResponseAction response;
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

// ---------------------------------------------------------------- entry points

// An error is one line of text (lb -t prints it, a reload logs it, the admin
// API returns it), but messages quote the file: a control character quoted
// from it (yaml-cpp's "unknown escape character" names the byte) is shown
// as \xHH.
Error one_line(const std::string& message) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(message.size());
    for (char c : message) {
        auto byte = static_cast<unsigned char>(c);
        if (byte >= 0x20 && byte != 0x7f) {
            out.push_back(c);
            continue;
        }
        out += "\\x";
        out.push_back(kHex[byte >> 4]);
        out.push_back(kHex[byte & 0xf]);
    }
    return Error{std::move(out)};
}

// What the YAML stream holds beyond its first document, read through
// yaml-cpp's parser events rather than YAML::LoadAll: on some input (a ','
// outside any flow collection) yaml-cpp 0.7 yields empty documents forever
// without reading on, and LoadAll collects them until memory runs out.
class DocumentScan : public YAML::EventHandler {
public:
    int documents = 0;
    std::optional<YAML::Mark> stuck;        // a document started where the previous one did
    std::optional<YAML::Mark> second_root;  // the first content of a later document

    void OnDocumentStart(const YAML::Mark& mark) override {
        if (documents > 0 && mark.pos == last_start_.pos) stuck = mark;
        last_start_ = mark;
        ++documents;
    }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { content(mark); }
    void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t, const std::string&) override {
        content(mark);
    }
    void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
        content(mark);
    }
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
        content(mark);
    }
    void OnMapEnd() override {}

private:
    void content(const YAML::Mark& mark) {
        if (documents > 1 && !second_root) second_root = mark;
    }
    YAML::Mark last_start_;
};

Result<Config> load(const std::string& text, const std::string& name, const fs::path& base_dir) {
    auto error_at = [&](const YAML::Mark& mark, const std::string& message) {
        SourcePos pos;
        pos.file = name;
        pos.line = mark.is_null() ? 0 : mark.line + 1;
        pos.column = mark.is_null() ? 0 : mark.column + 1;
        return one_line(pos.format(message));
    };
    YAML::Node document;
    try {
        std::istringstream stream(text);
        YAML::Parser parser(stream);
        DocumentScan scan;
        while (parser.HandleNextDocument(scan)) {
            // Every document takes at least one byte: more is the same loop.
            if (!scan.stuck && static_cast<size_t>(scan.documents) > text.size() + 1) scan.stuck = YAML::Mark();
            if (scan.stuck) {
                size_t at = static_cast<size_t>(scan.stuck->pos);
                std::string what = at < text.size() ? "'" + text.substr(at, 1) + "'" : "this";
                return error_at(*scan.stuck, "unexpected " + what + " (not valid YAML here)");
            }
            if (scan.second_root) return error_at(*scan.second_root, "only one YAML document is allowed");
        }
        if (scan.documents > 0) document = YAML::Load(text);
    } catch (const YAML::Exception& e) {
        std::string message = e.msg;
        // "listen: *:80" is an alias to YAML; the fix is not obvious.
        if (message == YAML::ErrorMsg::UNKNOWN_ANCHOR) message += " (quote values that start with '*', like \"*:80\")";
        return error_at(e.mark, message);
    }
    try {
        Loader loader(name, base_dir);
        return loader.load(document);
    } catch (const ConfigError& e) {
        return one_line(e.what());
    } catch (const YAML::Exception& e) {
        // Not expected: every access above is type-checked first.
        return one_line(name + ": " + e.what());
    }
}

fs::path directory_of(const std::string& path) {
    std::error_code ec;
    fs::path absolute = fs::absolute(path.empty() ? fs::path(".") : fs::path(path), ec);
    return ec ? fs::current_path(ec) : absolute.parent_path();
}

}  // namespace

Result<Config> load_config_file(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Error{path + ": cannot read: " + std::error_code(errno, std::system_category()).message()};
    std::string text;
    char buffer[64 * 1024];
    while (true) {
        ssize_t n = ::read(fd, buffer, sizeof(buffer));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int error = errno;
            ::close(fd);
            return Error{path + ": cannot read: " + std::error_code(error, std::system_category()).message()};
        }
        if (n == 0) break;
        text.append(buffer, static_cast<size_t>(n));
    }
    ::close(fd);
    return load(text, path, directory_of(path));
}

Result<Config> load_config_string(const std::string& yaml, const std::string& name) {
    // Relative paths resolve against the directory `name` would be in.
    return load(yaml, name, directory_of(name));
}

}  // namespace lb::conf

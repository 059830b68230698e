// The `global` section and its `admin` block.
#include "conf/loader.h"

#include <charconv>
#include <climits>

#include "conf/units.h"

namespace lb::conf {

namespace {

bool is_loopback(const SocketAddress& address) {
    auto bytes = address.ip_bytes();
    static const std::array<uint8_t, 16> v6_loopback{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    bool v4_mapped = std::all_of(bytes.begin(), bytes.begin() + 10, [](uint8_t b) { return b == 0; }) &&
                     bytes[10] == 0xff && bytes[11] == 0xff;
    return bytes == v6_loopback || (v4_mapped && bytes[12] == 127);
}

}  // namespace

void Loader::load_global(const YamlValue& value) {
    YamlMapping map(value, {"workers", "zone", "max_connections", "shutdown_timeout", "upgrade_timeout", "pid_file",
                            "access_log", "admin", "sticky_secret_file", "resolver"});
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
    if (auto timeout = map.get("upgrade_timeout")) global.upgrade_timeout = timeout->duration(1s, max_duration);
    // Written by lb, so it need not exist; relative like every other path.
    if (auto pid_file = map.get("pid_file")) global.pid_file = resolve_path(*pid_file);

    if (auto log = map.get("access_log")) {
        // "access_log: off" as in nginx.
        if (log->is_scalar() && lower(log->scalar()) == "off") {
            global.access_log.format = AccessLogFormat::off;
        } else {
            YamlMapping log_map(*log, {"path", "format", "fields", "template"});
            if (auto path = log_map.get("path")) {
                std::string text = path->string();
                global.access_log.path = text == "stdout" || text == "stderr" ? text : resolve_path(*path);
            }
            if (auto format = log_map.get("format"))
                global.access_log.format = choose(*format, kAccessLogFormatNames);
            load_access_log_shape(log_map, global.access_log);
        }
    }
    if (auto admin = map.get("admin")) load_admin(*admin);
    if (auto secret = map.get("sticky_secret_file")) global.sticky_secret_file = readable_file(*secret);
    if (auto resolver = map.get("resolver")) load_resolver(*resolver);
}

// `fields` of a json log, or the `template` of a template log (README "Logs").
void Loader::load_access_log_shape(const YamlMapping& map, AccessLog& log) {
    if (log.format != AccessLogFormat::json) map.reject("fields", "fields only applies to format: json");
    if (log.format != AccessLogFormat::text_template)
        map.reject("template", "template only applies to format: template");
    if (auto fields = map.get("fields")) {
        for (const auto& item : fields->items()) {
            const std::string& name = item.string();
            auto field = log_field_by_name(name);
            if (!field) item.fail("unknown access log field '" + name + "': use " + log_field_names());
            if (std::find(log.fields.begin(), log.fields.end(), *field) != log.fields.end())
                fields->fail("field '" + name + "' is listed twice");
            log.fields.push_back(*field);
        }
        if (log.fields.empty()) fields->fail("needs at least one field (leave fields out for all of them)");
    }
    if (log.format == AccessLogFormat::text_template) {
        YamlValue text = map.require("template");
        CompiledLogTemplate compiled = compile_log_template(text.string());
        if (!compiled.error.empty()) {
            // At the variable itself when the template is one plain or
            // quoted line (a quoted scalar's node carries the tag "!").
            SourcePos pos = text.pos();
            pos.column += static_cast<int>(compiled.error_offset) + (text.node().Tag() == "!" ? 1 : 0);
            throw ConfigError(pos.format(compiled.error));
        }
        log.text_template = std::move(compiled.pieces);
    }
}

void Loader::load_resolver(const YamlValue& value) {
    YamlMapping map(value, {"nameservers", "timeout", "attempts", "hold", "min_ttl", "max_ttl"});
    Resolver& resolver = config_.global.resolver;
    if (auto servers = map.get("nameservers")) {
        for (const auto& item : servers->items()) {
            std::string text = item.string();
            // "10.0.0.2" or "10.0.0.2:53" / "[::1]:5353"
            std::optional<SocketAddress> address = SocketAddress::from_ip(text, 53);
            if (!address) address = SocketAddress::parse(text);
            if (!address) item.fail("must be an IP address with an optional port, got '" + text + "'");
            resolver.nameservers.push_back(*address);
        }
        if (resolver.nameservers.empty()) servers->fail("must name at least one server (leave it out for /etc/resolv.conf)");
    }
    if (auto timeout = map.get("timeout")) resolver.timeout = timeout->duration(100ms, 30s);
    if (auto attempts = map.get("attempts")) resolver.attempts = static_cast<int>(attempts->integer(1, 10));
    if (auto hold = map.get("hold")) resolver.hold = hold->duration(0s, std::chrono::days(1));
    auto min_ttl = map.get("min_ttl");
    if (min_ttl) resolver.min_ttl = min_ttl->duration(1s, std::chrono::days(1));
    auto max_ttl = map.get("max_ttl");
    if (max_ttl) resolver.max_ttl = max_ttl->duration(1s, std::chrono::days(1));
    if (resolver.max_ttl < resolver.min_ttl) {
        if (max_ttl) max_ttl->fail("must not be less than min_ttl (" + format_duration(resolver.min_ttl) + ")");
        min_ttl->fail("must not be more than max_ttl (" + format_duration(resolver.max_ttl) + ")");
    }
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

}  // namespace lb::conf

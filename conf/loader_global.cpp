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
                global.access_log.format = choose(*format, kAccessLogFormatNames);
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

}  // namespace lb::conf

// The config loader's inside, shared by its files: the Loader (one
// section per file: loader_global.cpp, loader_target_groups.cpp,
// loader_listeners.cpp, loader_rules.cpp; the entry points and the order of
// sections in config_loader.cpp) and the small checks every section uses.
// Not for use outside conf/.
#pragma once

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conf/config.h"
#include "conf/enum_names.h"
#include "conf/yaml_reader.h"

namespace lb::conf {

class Loader {
public:
    Loader(std::string file, std::filesystem::path base_dir) : file_(std::move(file)), base_dir_(std::move(base_dir)) {}

    Config load(const YAML::Node& root_node);

private:
    void load_global(const YamlValue& value);
    void load_admin(const YamlValue& value);
    void load_resolver(const YamlValue& value);
    void load_access_log_shape(const YamlMapping& map, AccessLog& log);
    void load_request_identity(const YamlMapping& map, Listener& listener);
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
    // loader_rewrites.cpp
    HeaderEdits load_header_edits(const YamlValue& value, bool request);
    // An answer lb makes itself (redirect, fixed_response): set and add.
    HeaderEdits load_answer_headers(const YamlValue& value);
    PathRewrite load_path_rewrite(const YamlValue& value);
    // loader_target_groups.cpp
    void load_retry(const YamlMapping& map, TargetGroup& group);
    HashKey parse_hash_key(const YamlValue& value, const TargetGroup& group);
    void check_target_group_reference(const YamlValue& value, const std::string& name, const Listener& listener);

    // Relative paths are read against the config file's directory (as
    // HAProxy does), so a config and its files move together.
    std::string resolve_path(const YamlValue& value);
    // resolve_path, plus the file must exist and be readable now.
    std::string readable_file(const YamlValue& value);

    std::string file_;
    std::filesystem::path base_dir_;
    Config config_;
};

std::string lower(std::string text);
std::string upper(std::string text);
// "a, b or c"
std::string one_of(const std::vector<std::string_view>& names);

// An enum-like value, by the names of its table (conf/enum_names.h).
// Case-insensitive because ALB users write "HTTP".
template <class E, size_t N>
E choose(const YamlValue& value, const EnumName<E> (&names)[N]) {
    std::string text = lower(value.string());
    std::vector<std::string_view> known;
    for (const auto& entry : names) {
        if (text == entry.name) return entry.value;
        known.push_back(entry.name);
    }
    value.fail("must be " + one_of(known) + ", got '" + value.scalar() + "'");
}

// Fails with the reason a pattern check gave, at the value.
inline void check(const YamlValue& value, const std::optional<std::string>& error) {
    if (error) value.fail(*error);
}

inline bool is_http(ListenerProtocol protocol) {
    return protocol == ListenerProtocol::http || protocol == ListenerProtocol::https;
}

SocketAddress listen_address(const YamlValue& value);
std::vector<Cidr> cidr_list(const YamlValue& value);

}  // namespace lb::conf

// Typed, position-aware reads over a yaml-cpp tree, so each check in
// config_loader.cpp fails with "file:line:col: key.path: message".
//
// The first failure throws ConfigError; load_config_* catch it and return a
// Result. Throwing keeps the schema code straight-line, and config loading
// runs on the main thread, never on the request path.
#pragma once

#include <yaml-cpp/yaml.h>

#include <functional>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "conf/config.h"

namespace lb::conf {

// what() is the complete, formatted message.
class ConfigError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// One node plus where it is: file, 0-based mark and key path.
class YamlValue {
public:
    YamlValue(const std::string& file, YAML::Node node, YAML::Mark mark, std::string path);

    const std::string& file() const { return *file_; }
    const YAML::Node& node() const { return node_; }
    const std::string& path() const { return path_; }
    int line() const { return mark_.line + 1; }
    SourcePos pos() const;
    [[noreturn]] void fail(const std::string& message) const;
    // The same position under another key path ("listeners[0].rules").
    YamlValue with_path(std::string path) const;

    bool is_null() const { return node_.IsNull(); }
    bool is_scalar() const { return node_.IsScalar(); }
    bool is_map() const { return node_.IsMap(); }
    bool is_list() const { return node_.IsSequence(); }
    // "a list", "a mapping", "nothing" or the scalar quoted, for "got ...".
    std::string describe() const;

    // Any scalar, empty allowed; `expected` names it in the type error.
    const std::string& scalar(const char* expected = "a string") const;
    // A non-empty scalar.
    std::string string() const;
    long long integer(long long min, long long max) const;
    bool boolean() const;
    Duration duration(Duration min, Duration max) const;
    uint64_t size(uint64_t min, uint64_t max) const;
    // A list's items (paths "x[0]", "x[1]" ...).
    std::vector<YamlValue> items() const;
    // Same, but a lone scalar counts as a list of one ("path: /ping").
    std::vector<YamlValue> items_or_one() const;

private:
    const std::string* file_;
    YAML::Node node_;
    YAML::Mark mark_;
    std::string path_;
};

// A mapping whose keys were checked up front, in file order: each key is a
// string, appears once and (unless any keys are allowed) is a known key.
class YamlMapping {
public:
    struct Entry {
        YamlValue key;
        YamlValue value;
    };

    YamlMapping(const YamlValue& value, std::initializer_list<std::string_view> known_keys);
    // Keys are data (header names, zones): only type and duplicates checked.
    static YamlMapping any_keys(const YamlValue& value);

    const YamlValue& self() const { return self_; }
    const std::vector<Entry>& entries() const { return entries_; }
    bool has(std::string_view key) const { return find(key) != nullptr; }
    std::optional<YamlValue> get(std::string_view key) const;
    // Missing: fails at this mapping (where the key should have been).
    YamlValue require(std::string_view key) const;
    // Fails at the key itself when present: for keys valid in the schema but
    // not in this context ("tls is only allowed on https listeners").
    void reject(std::string_view key, const std::string& message) const;

private:
    explicit YamlMapping(const YamlValue& value);
    const Entry* find(std::string_view key) const;
    void check_keys(std::initializer_list<std::string_view> known_keys, bool any);

    YamlValue self_;
    std::vector<Entry> entries_;
};

// A test hook: called with every mapping that is checked against a list of
// known keys, and that list, before the check (so a mapping with an unknown
// key is seen too). tests/unit/conf/schema_keys_test.cpp compares what a
// load of conf/examples/full.yaml shows with conf/lb.schema.json. Per
// thread; empty (the default) costs one test per mapping.
using KnownKeysObserver =
    std::function<void(const YamlMapping& map, std::initializer_list<std::string_view> known_keys)>;
// Sets this thread's observer; returns the one it replaces.
KnownKeysObserver observe_known_keys(KnownKeysObserver observer);

// "a.b" / "a[3]" with an empty parent meaning the root.
std::string child_path(const std::string& parent, std::string_view key);
std::string index_path(const std::string& parent, size_t index);

// The candidate closest to `word` by edit distance, if it is close enough to
// be a likely typo; empty otherwise.
std::string closest_match(std::string_view word, const std::vector<std::string_view>& candidates);

}  // namespace lb::conf

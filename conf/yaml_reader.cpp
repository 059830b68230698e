#include "conf/yaml_reader.h"

#include <algorithm>
#include <charconv>
#include <climits>

#include "conf/units.h"

namespace lb::conf {

namespace {

thread_local KnownKeysObserver known_keys_observer;

std::string range_message(const std::string& min, const std::string& max, bool has_min, bool has_max) {
    if (has_min && has_max) return "must be between " + min + " and " + max;
    if (has_min) return "must be at least " + min;
    return "must be at most " + max;
}

size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

}  // namespace

std::string child_path(const std::string& parent, std::string_view key) {
    return parent.empty() ? std::string(key) : parent + "." + std::string(key);
}

std::string index_path(const std::string& parent, size_t index) {
    return parent + "[" + std::to_string(index) + "]";
}

std::string closest_match(std::string_view word, const std::vector<std::string_view>& candidates) {
    std::string best;
    size_t best_distance = 3;  // more than two edits is a different word, not a typo
    for (auto candidate : candidates) {
        size_t distance = edit_distance(word, candidate);
        if (distance < best_distance && distance < candidate.size()) {
            best_distance = distance;
            best = std::string(candidate);
        }
    }
    return best;
}

// ---------------------------------------------------------------- YamlValue

YamlValue::YamlValue(const std::string& file, YAML::Node node, YAML::Mark mark, std::string path)
    : file_(&file), node_(std::move(node)), mark_(mark), path_(std::move(path)) {
    if (mark_.is_null()) mark_ = YAML::Mark();
}

SourcePos YamlValue::pos() const {
    SourcePos out;
    out.file = *file_;
    out.line = mark_.line + 1;  // yaml-cpp marks are 0-based
    out.column = mark_.column + 1;
    out.key_path = path_;
    return out;
}

void YamlValue::fail(const std::string& message) const { throw ConfigError(pos().format(message)); }

YamlValue YamlValue::with_path(std::string path) const { return YamlValue(*file_, node_, mark_, std::move(path)); }

std::string YamlValue::describe() const {
    switch (node_.Type()) {
        case YAML::NodeType::Sequence: return "a list";
        case YAML::NodeType::Map: return "a mapping";
        case YAML::NodeType::Scalar: {
            std::string text = node_.Scalar();
            if (text.size() > 40) text = text.substr(0, 37) + "...";
            return "'" + text + "'";
        }
        default: return "nothing";
    }
}

const std::string& YamlValue::scalar(const char* expected) const {
    if (!is_scalar()) fail(std::string("expected ") + expected + ", got " + describe());
    return node_.Scalar();
}

std::string YamlValue::string() const {
    const std::string& text = scalar();
    if (text.empty()) fail("must not be empty");
    return text;
}

long long YamlValue::integer(long long min, long long max) const {
    const std::string& text = scalar("an integer");
    long long value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec == std::errc::invalid_argument || end != text.data() + text.size())
        fail("expected an integer, got " + describe());
    if (ec == std::errc::result_out_of_range || value < min || value > max)
        fail(range_message(std::to_string(min), std::to_string(max), min != LLONG_MIN, max != INT_MAX && max != LLONG_MAX));
    return value;
}

bool YamlValue::boolean() const {
    std::string text = scalar("true or false");
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
    // YAML 1.1 spellings too: operators copy "yes"/"on" from older configs.
    if (text == "true" || text == "yes" || text == "on") return true;
    if (text == "false" || text == "no" || text == "off") return false;
    fail("expected true or false, got " + describe());
}

Duration YamlValue::duration(Duration min, Duration max) const {
    const std::string& text = scalar("a duration");
    auto value = parse_duration(text);
    if (!value) fail("invalid duration '" + text + "': use a number with ms, s, m, h or d");
    // "between 0s and 1h" reads better than "at most 1h" for durations.
    if (*value < min || *value > max)
        fail(range_message(format_duration(min), format_duration(max), true, max != max_duration));
    return *value;
}

uint64_t YamlValue::size(uint64_t min, uint64_t max) const {
    const std::string& text = scalar("a size");
    auto value = parse_size(text);
    if (!value) fail("invalid size '" + text + "': use bytes or a number with k, m or g");
    if (*value < min || *value > max)
        fail(range_message(format_size(min), format_size(max), min > 0, max != UINT64_MAX));
    return *value;
}

std::vector<YamlValue> YamlValue::items() const {
    if (!is_list()) fail("expected a list, got " + describe());
    std::vector<YamlValue> out;
    size_t index = 0;
    for (const auto& item : node_) {
        // An empty item ("- ") has no useful mark of its own.
        YAML::Mark mark = item.IsNull() || item.Mark().is_null() ? mark_ : item.Mark();
        out.emplace_back(*file_, item, mark, index_path(path_, index++));
    }
    return out;
}

std::vector<YamlValue> YamlValue::items_or_one() const {
    if (is_scalar()) return {*this};
    if (!is_list()) fail("expected a list, got " + describe());
    return items();
}

// ---------------------------------------------------------------- YamlMapping

YamlMapping::YamlMapping(const YamlValue& value) : self_(value) {
    if (!value.is_map()) value.fail("expected a mapping, got " + value.describe());
    // Copies, not references: a map iterator's -> goes through a temporary.
    for (const auto& pair : value.node()) {
        YAML::Node key = pair.first;
        YAML::Node val = pair.second;
        YamlValue key_value(value.file(), key, key.Mark(), value.path());
        if (!key.IsScalar()) key_value.fail("expected a string key, got " + key_value.describe());
        std::string path = child_path(value.path(), key.Scalar());
        // An empty value ("key:") is marked at the next token; blame the key.
        YAML::Mark mark = val.IsNull() || val.Mark().is_null() ? key.Mark() : val.Mark();
        entries_.push_back(Entry{key_value.with_path(path), YamlValue(value.file(), val, mark, path)});
    }
}

YamlMapping::YamlMapping(const YamlValue& value, std::initializer_list<std::string_view> known_keys)
    : YamlMapping(value) {
    if (known_keys_observer) known_keys_observer(*this, known_keys);
    check_keys(known_keys, false);
}

KnownKeysObserver observe_known_keys(KnownKeysObserver observer) {
    std::swap(observer, known_keys_observer);
    return observer;
}

YamlMapping YamlMapping::any_keys(const YamlValue& value) {
    YamlMapping out(value);
    out.check_keys({}, true);
    return out;
}

void YamlMapping::check_keys(std::initializer_list<std::string_view> known_keys, bool any) {
    for (size_t i = 0; i < entries_.size(); ++i) {
        const YamlValue& key = entries_[i].key;
        const std::string& name = key.node().Scalar();
        if (!any && std::find(known_keys.begin(), known_keys.end(), name) == known_keys.end()) {
            std::string message = "unknown key '" + name + "'";
            if (name == "<<") {
                message += " (YAML merge keys are not supported)";
            } else if (auto suggestion = closest_match(name, known_keys); !suggestion.empty()) {
                message += " (did you mean '" + suggestion + "'?)";
            }
            key.with_path(child_path(self_.path(), name)).fail(message);
        }
        for (size_t j = 0; j < i; ++j)
            if (entries_[j].key.node().Scalar() == name)
                key.fail("duplicate key '" + name + "' (first at line " + std::to_string(entries_[j].key.line()) + ")");
    }
}

const YamlMapping::Entry* YamlMapping::find(std::string_view key) const {
    for (const auto& entry : entries_)
        if (entry.key.node().Scalar() == key) return &entry;
    return nullptr;
}

std::optional<YamlValue> YamlMapping::get(std::string_view key) const {
    if (const Entry* entry = find(key)) return entry->value;
    return std::nullopt;
}

YamlValue YamlMapping::require(std::string_view key) const {
    if (const Entry* entry = find(key)) return entry->value;
    self_.fail("missing required key '" + std::string(key) + "'");
}

void YamlMapping::reject(std::string_view key, const std::string& message) const {
    if (const Entry* entry = find(key)) entry->key.fail(message);
}

}  // namespace lb::conf

// conf/lb.schema.json against the loader's own lists of known keys: every
// mapping the loader checks when it reads conf/examples/full.yaml (seen
// through observe_known_keys, conf/yaml_reader.h) must have exactly the
// same keys in the schema at the same place, every object of the schema
// must be reached by full.yaml, and full.yaml must use every key. The
// other direction, each schema key tried on the loader (lb -t), is
// tests/integration/test_schema.py.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "conf/config_loader.h"
#include "conf/yaml_reader.h"
#include "test_support.h"

namespace lb::conf {
namespace {

using Json = nlohmann::json;

// What the loader showed for one place ("listeners[].tls"): the keys it
// knows there, and those full.yaml wrote there (over all its instances).
struct LoaderPlace {
    std::set<std::string> known;
    std::set<std::string> present;
};

// "listeners[3].rules[0].action" -> "listeners[].rules[].action"
std::string place_of(const std::string& path) {
    std::string out;
    bool in_index = false;
    for (char c : path) {
        if (in_index && c != ']') continue;
        in_index = c == '[';
        out += c;
    }
    return out;
}

std::string join(const std::set<std::string>& names) {
    std::string out;
    for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
    return out;
}

// The loader's places, from loading full.yaml (beside its files).
std::map<std::string, LoaderPlace> loader_places() {
    std::map<std::string, LoaderPlace> places;
    testing::TempDir dir;
    std::string path = testing::write_full_example(dir);
    auto previous = observe_known_keys([&](const YamlMapping& map, std::initializer_list<std::string_view> known) {
        LoaderPlace& place = places[place_of(map.self().path())];
        for (auto key : known) place.known.emplace(key);
        for (const auto& entry : map.entries()) place.present.insert(entry.key.node().Scalar());
    });
    auto result = load_config_file(path);
    observe_known_keys(std::move(previous));
    EXPECT_TRUE(result.ok()) << result.error();
    return places;
}

// The schema's places: each object schema with `properties`, by the path
// of the YAML it describes. Followed: properties, items, $ref and the
// branches of anyOf / oneOf (a key that takes a scalar or a mapping). Not
// followed: if/then/else, allOf, dependencies and not, which only narrow
// what the places above allow.
class SchemaPlaces {
public:
    explicit SchemaPlaces(Json schema) : root_(std::move(schema)) { walk(root_, ""); }

    const std::map<std::string, const Json*>& places() const { return places_; }
    const std::vector<std::string>& problems() const { return problems_; }

    // A key whose schema is `false` or {"not": {}}: known, always refused.
    static bool refused(const Json& property) {
        return property == Json(false) || (property.is_object() && property.size() <= 2 && property.contains("not") &&
                                           property["not"] == Json::object());
    }

private:
    const Json& resolve(const Json& node) {
        if (!node.is_object() || !node.contains("$ref")) return node;
        std::string ref = node["$ref"];
        return resolve(root_.at(Json::json_pointer(ref.substr(1))));  // "#/definitions/x"
    }

    void walk(const Json& schema, const std::string& path) {
        const Json& node = resolve(schema);
        if (!node.is_object()) return;
        if (node.contains("properties")) {
            auto [it, added] = places_.emplace(path, &node);
            if (!added && it->second != &node) problems_.push_back("two object schemas describe '" + path + "'");
            for (const auto& [key, property] : node["properties"].items())
                walk(property, path.empty() ? key : path + "." + key);
        }
        if (node.contains("items")) walk(node["items"], path + "[]");
        for (const char* branches : {"anyOf", "oneOf"})
            if (node.contains(branches))
                for (const auto& branch : node[branches]) walk(branch, path);
    }

    Json root_;
    std::map<std::string, const Json*> places_;
    std::vector<std::string> problems_;
};

Json read_schema() {
    std::ifstream in(LB_CONF_SCHEMA);
    EXPECT_TRUE(in) << "cannot open " << LB_CONF_SCHEMA;
    return Json::parse(in, nullptr, /*allow_exceptions=*/false);
}

std::set<std::string> keys_of(const Json& object_schema) {
    std::set<std::string> keys;
    for (const auto& [key, property] : object_schema["properties"].items()) keys.insert(key);
    return keys;
}

// A key in one and not the other, at each place the loader checked.
std::vector<std::string> key_differences(const SchemaPlaces& schema, const std::map<std::string, LoaderPlace>& loader) {
    std::vector<std::string> out;
    for (const auto& [place, seen] : loader) {
        auto found = schema.places().find(place);
        if (found == schema.places().end()) {
            out.push_back("the loader reads a mapping at '" + place + "' (keys " + join(seen.known) +
                          ") that the schema does not describe");
            continue;
        }
        std::set<std::string> in_schema = keys_of(*found->second);
        for (const auto& key : seen.known)
            if (!in_schema.count(key)) out.push_back("'" + place + "': the loader knows '" + key + "', the schema does not");
        for (const auto& key : in_schema)
            if (!seen.known.count(key)) out.push_back("'" + place + "': the schema has '" + key + "', the loader does not");
    }
    return out;
}

// The same object schema (a definition) describes several places, which the
// loader reads with the same code: full.yaml must reach each object schema
// at one place at least, and use each of its keys at one of them.
std::map<const Json*, std::vector<std::string>> places_by_object(const SchemaPlaces& schema) {
    std::map<const Json*, std::vector<std::string>> out;
    for (const auto& [place, node] : schema.places()) out[node].push_back(place);
    return out;
}

// Object schemas full.yaml never reaches: their keys would go unchecked.
std::vector<std::string> unreached(const SchemaPlaces& schema, const std::map<std::string, LoaderPlace>& loader) {
    std::vector<std::string> out;
    for (const auto& [node, places] : places_by_object(schema)) {
        bool reached = std::any_of(places.begin(), places.end(), [&](const auto& place) { return loader.count(place); });
        if (!reached) out.push_back("full.yaml has no '" + places.front() + "'");
    }
    return out;
}

// Keys one config cannot write together, so full.yaml writes one of each
// pair: (place, key, the key it excludes). The access log's json `fields`
// and its `template` belong to different formats.
struct ExclusiveKey {
    std::string_view place, key, instead;
};
constexpr ExclusiveKey kExclusiveKeys[] = {{"global.access_log", "template", "fields"}};

bool written_instead(const std::string& place, const std::string& key, const std::set<std::string>& present) {
    for (const auto& exclusive : kExclusiveKeys)
        if (place == exclusive.place && key == exclusive.key) return present.count(std::string(exclusive.instead)) > 0;
    return false;
}

// Keys full.yaml does not write, though it says it uses every key; keys the
// loader knows only to refuse them (answer headers' remove) and keys
// another key excludes (kExclusiveKeys) excepted.
std::vector<std::string> unused(const SchemaPlaces& schema, const std::map<std::string, LoaderPlace>& loader) {
    std::vector<std::string> out;
    for (const auto& [node, places] : places_by_object(schema)) {
        std::set<std::string> present;
        for (const auto& place : places)
            if (auto seen = loader.find(place); seen != loader.end())
                present.insert(seen->second.present.begin(), seen->second.present.end());
        for (const auto& [key, property] : (*node)["properties"].items())
            if (!SchemaPlaces::refused(property) && !present.count(key) &&
                !written_instead(places.front(), key, present))
                out.push_back("full.yaml does not use '" + key + "' in '" + places.front() + "'");
    }
    return out;
}

std::string lines(const std::vector<std::string>& messages) {
    std::string out;
    for (const auto& message : messages) out += "\n  " + message;
    return out;
}

class SchemaKeys : public ::testing::Test {
protected:
    void SetUp() override {
        schema_ = read_schema();
        ASSERT_FALSE(schema_.is_discarded()) << LB_CONF_SCHEMA << " is not JSON";
        loader_ = loader_places();
        ASSERT_FALSE(loader_.empty());
    }

    Json schema_;
    std::map<std::string, LoaderPlace> loader_;
};

TEST_F(SchemaKeys, EveryMappingTheLoaderChecksHasTheSameKeysInTheSchema) {
    SchemaPlaces schema(schema_);
    EXPECT_EQ(lines(schema.problems()), "");
    EXPECT_EQ(lines(key_differences(schema, loader_)), "") << "conf/lb.schema.json and the loader differ";
}

TEST_F(SchemaKeys, FullExampleReachesEveryObjectOfTheSchema) {
    EXPECT_EQ(lines(unreached(SchemaPlaces(schema_), loader_)), "");
}

TEST_F(SchemaKeys, FullExampleUsesEveryKey) {
    EXPECT_EQ(lines(unused(SchemaPlaces(schema_), loader_)), "");
}

// The checks above can fail: a key taken out of the schema, one added to
// it, and an object the loader does not have are each reported.
TEST_F(SchemaKeys, BrokenSchemaIsCaught) {
    Json broken = schema_;
    Json& definitions = broken["definitions"];
    definitions["global"]["properties"].erase("zone");
    definitions["target"]["properties"]["bogus_key"] = {{"type", "string"}};
    definitions["listener"]["properties"]["bogus_block"] = {
        {"type", "object"}, {"properties", {{"depth", {{"type", "integer"}}}}}};
    SchemaPlaces schema(broken);
    auto differences = key_differences(schema, loader_);
    EXPECT_EQ(lines(differences),
              lines({"'global': the loader knows 'zone', the schema does not",
                     "'listeners[]': the schema has 'bogus_block', the loader does not",
                     "'target_groups[].targets[]': the schema has 'bogus_key', the loader does not"}));
    EXPECT_EQ(lines(unreached(schema, loader_)), lines({"full.yaml has no 'listeners[].bogus_block'"}));
}

}  // namespace
}  // namespace lb::conf

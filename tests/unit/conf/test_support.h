// Helpers shared by the conf tests: a scratch directory and one-call loads.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "conf/config_loader.h"

namespace lb::conf::testing {

// A fresh directory under $TMPDIR, removed with everything in it.
class TempDir {
public:
    TempDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "lb-conf-test-XXXXXX").string();
        path_ = ::mkdtemp(pattern.data());
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const { return path_; }
    // Writes `content` to `name` (subdirectories created); returns the path.
    std::string write(const std::string& name, const std::string& content) const {
        auto file = path_ / name;
        std::filesystem::create_directories(file.parent_path());
        std::ofstream(file) << content;
        return file.string();
    }

private:
    std::filesystem::path path_;
};

// conf/examples/full.yaml names certificates, keys and secrets by relative
// path: a copy of it in `dir` with those files beside it (placeholders: the
// loader checks they are readable, not what they hold). Returns its path.
inline std::string write_full_example(const TempDir& dir) {
    std::ifstream in(std::string(LB_CONF_EXAMPLES_DIR) + "/full.yaml");
    EXPECT_TRUE(in) << "cannot open full.yaml";
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (const char* file : {"admin.token", "sticky.key", "certs/a.pem", "certs/a.key", "certs/wild.example.com.pem",
                             "certs/wild.key", "certs/ca.pem"})
        dir.write(file, "placeholder\n");
    return dir.write("full.yaml", text);
}

// Raw strings in tests start with a newline for readability; drop it so the
// first YAML line is line 1.
inline std::string yaml(const char* text) {
    std::string out(text);
    if (!out.empty() && out.front() == '\n') out.erase(0, 1);
    return out;
}

// With LB_CONF_TEST_CASES=DIR in the environment, every config loaded
// through load() is written to DIR as NNNN.yaml beside NNNN.result (the
// test's name, then "ok" or the loader's error): the loader's own test
// cases, for tests/integration/test_schema.py to check conf/lb.schema.json
// against, so the two sets of cases cannot drift apart.
inline void record_case(const std::string& text, const Result<Config>& result) {
    const char* dir = std::getenv("LB_CONF_TEST_CASES");
    if (dir == nullptr || *dir == '\0') return;
    static int cases = 0;
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = test ? std::string(test->test_suite_name()) + "." + test->name() : "(no test)";
    char number[16];
    std::snprintf(number, sizeof(number), "%04d", cases++);
    std::filesystem::path base = std::filesystem::path(dir) / number;
    std::ofstream(base.string() + ".yaml", std::ios::binary) << text;
    std::ofstream(base.string() + ".result", std::ios::binary) << name << "\n" << (result.ok() ? "ok" : result.error());
}

// load_config_string, recorded (record_case).
inline Result<Config> load(const std::string& text, const std::string& name = "lb.yaml") {
    auto result = load_config_string(text, name);
    record_case(text, result);
    return result;
}

// The config `text` loads to; a failure to load fails the test.
inline Config load_ok(const std::string& text, const std::string& name = "lb.yaml") {
    auto result = load(text, name);
    EXPECT_TRUE(result.ok()) << result.error();
    return result.ok() ? std::move(result).value() : Config{};
}

// The error message of loading `text` as "lb.yaml", or "ok".
inline std::string load_error(const std::string& text) {
    auto result = load(text);
    return result.ok() ? "ok" : result.error();
}

}  // namespace lb::conf::testing

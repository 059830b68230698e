// Helpers shared by the conf tests: a scratch directory and one-call loads.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
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

// Raw strings in tests start with a newline for readability; drop it so the
// first YAML line is line 1.
inline std::string yaml(const char* text) {
    std::string out(text);
    if (!out.empty() && out.front() == '\n') out.erase(0, 1);
    return out;
}

// The error message of loading `text` as "lb.yaml", or "ok".
inline std::string load_error(const std::string& text) {
    auto result = load_config_string(text, "lb.yaml");
    return result.ok() ? "ok" : result.error();
}

}  // namespace lb::conf::testing

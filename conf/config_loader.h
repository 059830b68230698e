// YAML file -> validated conf::Config. Every error is one line:
// "file:line:col: key.path: message" (README, "Config errors").
#pragma once

#include <string>
#include <string_view>

#include "conf/config.h"
#include "lb/base/result.h"

namespace lb::conf {

// Reads, parses and validates. Does not touch sockets or certificate files
// beyond checking they are readable; lb/runtime does the rest.
Result<Config> load_config_file(const std::string& path);

// `text` with control characters shown as \xHH (line feeds kept when
// asked), so a message that quotes a file stays readable on one line.
std::string escape_controls(std::string_view text, bool keep_newlines = false);

// Same, from text (tests); `name` is used as the file name in errors.
Result<Config> load_config_string(const std::string& yaml, const std::string& name);

}  // namespace lb::conf

// Reads an nginx configuration into a tree of directives, for `lb
// import-nginx` (conf/nginx_import.h). Only the syntax: tokens, blocks and
// `include`; what the directives mean is the importer's business.
//
// Tokens follow nginx's own reader (src/core/ngx_conf_file.c): words are
// split by whitespace, ';', '{' and '}' at the start of a word; "..." and
// '...' quote; a backslash escapes the next character (\" \' \\ \t \r \n
// are unescaped, any other pair is kept as written); '#' at the start of a
// word comments out the rest of the line; "${" inside a word does not open
// a block, so "${var}" stays one word.
//
// `include PATH` is replaced by the directives of the files it names, each
// keeping its own file and line. A relative PATH is taken from the
// directory of the main file, as nginx takes it from its configuration
// prefix (the directory of the file given with -c), not from the including
// file's. A PATH with a wildcard (*, ?, [) names every match in sorted
// order, and may match nothing; a PATH without one must be readable.
#pragma once

#include <string>
#include <vector>

#include "lb/base/result.h"

namespace lb::conf {

struct NginxDirective {
    std::string name;
    std::vector<std::string> args;     // unquoted and unescaped
    std::string file;                  // as opened (absolute when the main path was)
    int line = 0;                      // 1-based, where the name starts
    bool has_block = false;            // "name args { ... }"
    std::vector<NginxDirective> block;
    int ordinal = 0;                   // position in reading order over all files (report sorting)

    // "file:line"
    std::string where() const { return file + ":" + std::to_string(line); }
    // Directives of the block with this name, in order.
    std::vector<const NginxDirective*> children(const std::string& child_name) const;
    // The first such child, or nullptr.
    const NginxDirective* child(const std::string& child_name) const;
};

// The directives of one file's text, includes left as directives. Errors
// are "file:line: message".
Result<std::vector<NginxDirective>> parse_nginx_text(const std::string& text, const std::string& file);

// The main file with every include expanded. Errors are "file:line:
// message" (a missing include names the include directive's line) or
// "file: cannot read: reason".
Result<std::vector<NginxDirective>> read_nginx_config(const std::string& path);
// The same with the main file's text given; `name` stands for its path.
Result<std::vector<NginxDirective>> read_nginx_text(const std::string& text, const std::string& name);

}  // namespace lb::conf

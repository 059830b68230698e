// `lb import-nginx PATH`: an nginx configuration (with its includes) as lb
// YAML, and a report of every directive that could not be mapped exactly
// (README, "Coming from nginx").
//
// The YAML is loaded with lb's own loader before it is handed out, so it
// is never one `lb -t` would refuse for its schema. Certificate files are
// kept where nginx has them; one that cannot be read here (the config was
// copied from another machine) is reported, and the check is made with the
// nginx file standing in for it, so the rest of the YAML is still checked.
#pragma once

#include <string>
#include <vector>

namespace lb::conf {

struct NginxImport {
    // 0: everything mapped (some directives may be ignored because lb
    // already behaves so); 2: YAML written, but something was approximated,
    // left out or needs attention; 1: no YAML (unreadable file, nginx syntax
    // error, nothing to map, or the importer made YAML lb refuses).
    int exit_status = 1;
    std::string yaml;                 // empty when exit_status is 1
    std::vector<std::string> report;  // "file:line: directive: what was done and why"
    std::string error;                // exit_status 1: why
};

NginxImport import_nginx(const std::string& path);

// The same from text (tests, fuzzing): `name` stands for the file, and its
// directory is where includes are looked for.
NginxImport import_nginx_text(const std::string& text, const std::string& name);

}  // namespace lb::conf

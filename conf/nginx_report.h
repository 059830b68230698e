// What `lb import-nginx` tells the operator on stderr: one line per nginx
// directive it did not map exactly, "file:line: directive: what was done
// and why", in the order the directives appear in the configuration.
#pragma once

#include <string>
#include <vector>

#include "conf/nginx_reader.h"

namespace lb::conf::nginx {

enum class NoteKind {
    unsupported,   // "not supported": left out of the YAML
    approximated,  // "approximated": mapped to the nearest lb setting
    attention,     // mapped, but something needs the operator (a file not readable here)
    ignored,       // "ignored (...)": lb already behaves so, or it has no meaning for lb
};

struct Note {
    NoteKind kind;
    std::string file;
    int line = 0;
    int ordinal = 0;
    std::string directive;
    std::string message;
    std::string text() const;  // the report line
};

class Report {
public:
    // "not supported: <why>"
    void unsupported(const NginxDirective& at, const std::string& why);
    // "approximated: <how>"
    void approximated(const NginxDirective& at, const std::string& how);
    // "<what>" (a file that cannot be read now, ...)
    void attention(const NginxDirective& at, const std::string& what);
    // "ignored (lb does this by default)" when `why` is empty, else "ignored: <why>"
    void ignored(const NginxDirective& at, const std::string& why = "");

    // Sorted by position, duplicates dropped.
    std::vector<std::string> lines() const;
    // 0 when everything was mapped (ignored directives included), 2 otherwise.
    int exit_status() const;
    const std::vector<Note>& notes() const { return notes_; }

private:
    void add(NoteKind kind, const NginxDirective& at, const std::string& message);
    std::vector<Note> notes_;
};

}  // namespace lb::conf::nginx

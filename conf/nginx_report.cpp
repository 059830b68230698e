// The import report (see nginx_report.h).
#include "conf/nginx_report.h"

#include <algorithm>
#include <set>

#include "conf/config_loader.h"

namespace lb::conf::nginx {

// One line: control characters quoted from the configuration are shown as \xHH.
std::string Note::text() const {
    return escape_controls(file + ":" + std::to_string(line) + ": " + directive + ": " + message);
}

void Report::add(NoteKind kind, const NginxDirective& at, const std::string& message) {
    notes_.push_back(Note{kind, at.file, at.line, at.ordinal, at.name, message});
}

void Report::unsupported(const NginxDirective& at, const std::string& why) {
    add(NoteKind::unsupported, at, "not supported: " + why);
}

void Report::approximated(const NginxDirective& at, const std::string& how) {
    add(NoteKind::approximated, at, "approximated: " + how);
}

void Report::attention(const NginxDirective& at, const std::string& what) { add(NoteKind::attention, at, what); }

void Report::ignored(const NginxDirective& at, const std::string& why) {
    add(NoteKind::ignored, at, why.empty() ? "ignored (lb does this by default)" : "ignored: " + why);
}

std::vector<std::string> Report::lines() const {
    std::vector<const Note*> sorted;
    for (const auto& note : notes_) sorted.push_back(&note);
    std::stable_sort(sorted.begin(), sorted.end(), [](const Note* a, const Note* b) { return a->ordinal < b->ordinal; });
    std::vector<std::string> out;
    std::set<std::string> seen;
    for (const Note* note : sorted) {
        std::string line = note->text();
        if (seen.insert(line).second) out.push_back(std::move(line));
    }
    return out;
}

int Report::exit_status() const {
    for (const auto& note : notes_)
        if (note.kind != NoteKind::ignored) return 2;
    return 0;
}

}  // namespace lb::conf::nginx

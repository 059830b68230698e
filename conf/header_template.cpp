#include "conf/header_template.h"

#include <array>
#include <utility>

#include "conf/patterns.h"
#include "lb/base/ascii.h"

namespace lb::conf {

namespace {

constexpr std::array<std::pair<std::string_view, HeaderVariable>, 12> kVariables{{
    {"client_ip", HeaderVariable::client_ip},
    {"client_port", HeaderVariable::client_port},
    {"host", HeaderVariable::host},
    {"scheme", HeaderVariable::scheme},
    {"server_port", HeaderVariable::server_port},
    {"method", HeaderVariable::method},
    {"request_uri", HeaderVariable::request_uri},
    {"request_id", HeaderVariable::request_id},
    {"listener", HeaderVariable::listener},
    {"rule", HeaderVariable::rule},
    {"target_group", HeaderVariable::target_group},
    {"target", HeaderVariable::target},
}};

// The message's framing and the hop-by-hop fields: lb writes these itself.
constexpr std::string_view kFraming[] = {"content-length", "transfer-encoding", "connection", "keep-alive",
                                         "proxy-connection", "te", "trailer", "upgrade"};
// The client's identity as lb established it.
constexpr std::string_view kForwarded[] = {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-port"};

}  // namespace

ParsedTemplate parse_header_template(std::string_view text) {
    ParsedTemplate out;
    std::string literal;
    size_t at = 0;
    while (at < text.size()) {
        char c = text[at];
        if (c == '\r' || c == '\n' || c == '\0') {
            out.error = "a header value must not contain CR, LF or NUL";
            return out;
        }
        if (c != '#' || at + 1 >= text.size() || text[at + 1] != '{') {
            literal.push_back(c);
            ++at;
            continue;
        }
        size_t close = text.find('}', at);
        if (close == std::string_view::npos) {
            out.error = "unterminated variable in '" + std::string(text) + "'";
            return out;
        }
        std::string_view name = text.substr(at + 2, close - at - 2);
        std::optional<HeaderVariable> variable;
        for (const auto& [known, value] : kVariables)
            if (name == known) variable = value;
        if (!variable) {
            out.error = "unknown variable '#{" + std::string(name) + "}': use " + header_variable_names();
            return out;
        }
        if (!literal.empty()) out.pieces.push_back({std::move(literal), std::nullopt});
        literal.clear();
        out.pieces.push_back({std::string(), variable});
        at = close + 1;
    }
    if (!literal.empty()) out.pieces.push_back({std::move(literal), std::nullopt});
    return out;
}

std::string header_variable_names() {
    std::string out;
    for (size_t i = 0; i < kVariables.size(); ++i) {
        if (i) out += i + 1 == kVariables.size() ? " or " : ", ";
        out += "#{" + std::string(kVariables[i].first) + "}";
    }
    return out;
}

std::optional<std::string> check_editable_header(std::string_view name, HeaderSide side, HeaderEdit edit) {
    if (auto bad = check_header_name(name)) return bad;
    for (std::string_view framing : kFraming)
        if (iequals(name, framing))
            return "'" + std::string(name) + "' is framing or hop-by-hop: lb writes it itself";
    if (side == HeaderSide::request) {
        for (std::string_view forwarded : kForwarded)
            if (iequals(name, forwarded))
                return "'" + std::string(name) + "' carries the client's identity as lb established it";
        if (iequals(name, "host") && edit != HeaderEdit::set)
            return std::string("Host can be set, not removed or added");
    }
    return std::nullopt;
}

}  // namespace lb::conf

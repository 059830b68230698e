// The path rules match on (README "Path normalization"): percent-escapes of
// unreserved characters decoded and the others' hex digits upper-cased
// (RFC 3986 section 6.2.2.1-2), dot segments removed (section 5.2.4), and
// optionally runs of slashes merged. Without it `path: ["/admin*"]` is
// passed by `//admin`, `/%61dmin`, `/./admin` or `/x/../admin`, which a
// target reads as /admin.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace lb {

// `path` is an origin-form path (starting with '/', no query). Returns
// nullopt for a malformed escape ('%' not followed by two hex digits),
// which lb answers with 400.
std::optional<std::string> normalize_path(std::string_view path, bool merge_slashes);

}  // namespace lb

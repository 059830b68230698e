// Health-check success codes written as an ALB does: "200", "200-399",
// "200,204" or a mix ("200,300-399").
#pragma once

#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace lb::conf {

// Inclusive ranges of codes 100..599; nullopt on anything else (empty parts,
// reversed ranges, codes out of range). Spaces around ',' and '-' are fine.
std::optional<std::vector<std::pair<int, int>>> parse_status_matcher(std::string_view text);

}  // namespace lb::conf

// A compiled rule pattern: `*` matches any run of bytes (including none),
// `?` exactly one byte, everything else is literal (no escapes, as in ALB).
// Matching is byte-wise; case-insensitive mode folds ASCII letters only.
//
// Compiled once per config snapshot, then immutable and safe to share.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lb/base/ascii.h"

namespace lb {


class Wildcard {
public:
    enum class Case : uint8_t { sensitive, insensitive };
    // How matches() decides; the first four never run the general algorithm.
    enum class Shape : uint8_t {
        exact,    // no wildcard: string compare
        prefix,   // "lit*": starts_with
        suffix,   // "*lit": ends_with
        any,      // "*": everything
        general,  // anchored head/tail segments plus leftmost-placed middle ones
    };

    Wildcard() = default;  // the empty pattern: matches only ""
    explicit Wildcard(std::string_view pattern, Case mode = Case::sensitive);

    // O(text * pattern) worst case, never exponential.
    bool matches(std::string_view text) const;

    Shape shape() const { return shape_; }
    Case case_mode() const { return mode_; }
    const std::string& pattern() const { return pattern_; }  // as written
    // Literal bytes before the first / after the last wildcard (the whole
    // pattern when it has none), folded to lower case in insensitive mode.
    // Indexes use them as cheap necessary conditions.
    std::string_view literal_prefix() const;
    std::string_view literal_suffix() const;

private:
    // A run of pattern bytes between stars; '?' inside means "any byte".
    struct Segment {
        uint32_t offset = 0;  // into folded_
        uint32_t length = 0;
        bool has_any_byte = false;
    };
    bool segment_at(const Segment& segment, std::string_view text, size_t pos) const;
    // Leftmost position >= from where segment fits inside text[.., end); npos if none.
    size_t find_segment(const Segment& segment, std::string_view text, size_t from, size_t end) const;

    std::string pattern_;
    std::string folded_;  // stars collapsed, lower case when insensitive
    std::vector<Segment> segments_;
    size_t min_length_ = 0;
    size_t prefix_length_ = 0;  // literal_prefix() = folded_[0, prefix_length_)
    size_t suffix_length_ = 0;  // literal_suffix() = folded_ tail of this length
    bool leading_star_ = false;
    bool trailing_star_ = false;
    Case mode_ = Case::sensitive;
    Shape shape_ = Shape::exact;
};

}  // namespace lb

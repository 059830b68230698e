#include "lb/routing/wildcard.h"

namespace lb {

namespace {

bool is_wildcard(char c) { return c == '*' || c == '?'; }

// text[pos, pos + literal.size()) equals literal; literal is already folded.
bool literal_at(std::string_view literal, std::string_view text, size_t pos, Wildcard::Case mode) {
    if (mode == Wildcard::Case::sensitive) return text.compare(pos, literal.size(), literal) == 0;
    for (size_t i = 0; i < literal.size(); ++i)
        if (ascii_lower(text[pos + i]) != literal[i]) return false;
    return true;
}

}  // namespace

Wildcard::Wildcard(std::string_view pattern, Case mode) : pattern_(pattern), mode_(mode) {
    folded_.reserve(pattern.size());
    for (char c : pattern) {
        // "**" means the same as "*"; collapsing keeps segments non-empty.
        if (c == '*' && !folded_.empty() && folded_.back() == '*') continue;
        folded_.push_back(mode == Case::insensitive ? ascii_lower(c) : c);
    }
    leading_star_ = !folded_.empty() && folded_.front() == '*';
    trailing_star_ = !folded_.empty() && folded_.back() == '*';

    size_t start = 0;
    for (size_t i = 0; i <= folded_.size(); ++i) {
        if (i < folded_.size() && folded_[i] != '*') continue;
        if (i > start) {
            Segment segment{static_cast<uint32_t>(start), static_cast<uint32_t>(i - start), false};
            segment.has_any_byte = std::string_view(folded_).substr(start, i - start).find('?') !=
                                   std::string_view::npos;
            segments_.push_back(segment);
            min_length_ += segment.length;
        }
        start = i + 1;
    }

    size_t first_wild = 0;
    while (first_wild < folded_.size() && !is_wildcard(folded_[first_wild])) ++first_wild;
    prefix_length_ = first_wild;
    size_t tail = 0;
    while (tail < folded_.size() && !is_wildcard(folded_[folded_.size() - 1 - tail])) ++tail;
    suffix_length_ = tail;

    bool has_wildcard = first_wild < folded_.size();
    if (!has_wildcard) {
        shape_ = Shape::exact;
    } else if (folded_ == "*") {
        shape_ = Shape::any;
    } else if (segments_.size() == 1 && !segments_[0].has_any_byte && leading_star_ != trailing_star_) {
        shape_ = trailing_star_ ? Shape::prefix : Shape::suffix;
    } else {
        shape_ = Shape::general;
    }
}

std::string_view Wildcard::literal_prefix() const {
    return std::string_view(folded_).substr(0, prefix_length_);
}

std::string_view Wildcard::literal_suffix() const {
    return std::string_view(folded_).substr(folded_.size() - suffix_length_);
}

bool Wildcard::segment_at(const Segment& segment, std::string_view text, size_t pos) const {
    std::string_view literal = std::string_view(folded_).substr(segment.offset, segment.length);
    if (!segment.has_any_byte) return literal_at(literal, text, pos, mode_);
    for (size_t i = 0; i < literal.size(); ++i) {
        if (literal[i] == '?') continue;
        char c = mode_ == Case::insensitive ? ascii_lower(text[pos + i]) : text[pos + i];
        if (c != literal[i]) return false;
    }
    return true;
}

size_t Wildcard::find_segment(const Segment& segment, std::string_view text, size_t from,
                              size_t end) const {
    if (!segment.has_any_byte && mode_ == Case::sensitive) {
        std::string_view literal = std::string_view(folded_).substr(segment.offset, segment.length);
        return text.substr(0, end).find(literal, from);
    }
    for (size_t pos = from; pos + segment.length <= end; ++pos)
        if (segment_at(segment, text, pos)) return pos;
    return std::string_view::npos;
}

bool Wildcard::matches(std::string_view text) const {
    switch (shape_) {
    case Shape::exact:
        return text.size() == folded_.size() && literal_at(folded_, text, 0, mode_);
    case Shape::any:
        return true;
    case Shape::prefix:
        return text.size() >= min_length_ && literal_at(literal_prefix(), text, 0, mode_);
    case Shape::suffix:
        return text.size() >= min_length_ &&
               literal_at(literal_suffix(), text, text.size() - min_length_, mode_);
    case Shape::general:
        break;
    }

    if (text.size() < min_length_) return false;
    if (folded_.size() == min_length_)  // no star: one segment spanning the text
        return text.size() == min_length_ && segment_at(segments_[0], text, 0);

    // Head and tail are anchored; each middle segment is fixed-length, so
    // placing it at its leftmost fit never loses a match (no backtracking).
    size_t first = 0, last = segments_.size();
    size_t pos = 0, end = text.size();
    if (!leading_star_) {
        if (!segment_at(segments_[0], text, 0)) return false;
        pos = segments_[0].length;
        first = 1;
    }
    if (!trailing_star_) {
        const Segment& tail = segments_[last - 1];
        if (!segment_at(tail, text, end - tail.length)) return false;
        end -= tail.length;
        --last;
    }
    for (size_t i = first; i < last; ++i) {
        size_t found = find_segment(segments_[i], text, pos, end);
        if (found == std::string_view::npos) return false;
        pos = found + segments_[i].length;
    }
    return true;
}

}  // namespace lb

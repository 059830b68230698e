#include "lb/routing/wildcard.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace lb {
namespace {

using Case = Wildcard::Case;
using Shape = Wildcard::Shape;

bool match(std::string_view pattern, std::string_view text, Case mode = Case::sensitive) {
    return Wildcard(pattern, mode).matches(text);
}

// Reference: dynamic programming over (pattern, text) prefixes.
bool reference_match(std::string_view pattern, std::string_view text, bool fold) {
    auto eq = [&](char p, char t) { return fold ? ascii_lower(p) == ascii_lower(t) : p == t; };
    std::vector<std::vector<bool>> ok(pattern.size() + 1, std::vector<bool>(text.size() + 1));
    ok[0][0] = true;
    for (size_t i = 1; i <= pattern.size(); ++i) {
        char p = pattern[i - 1];
        for (size_t j = 0; j <= text.size(); ++j) {
            if (p == '*')
                ok[i][j] = ok[i - 1][j] || (j > 0 && ok[i][j - 1]);
            else
                ok[i][j] = j > 0 && ok[i - 1][j - 1] && (p == '?' || eq(p, text[j - 1]));
        }
    }
    return ok[pattern.size()][text.size()];
}

TEST(Wildcard, LiteralIsPlainComparison) {
    EXPECT_TRUE(match("/ping", "/ping"));
    EXPECT_FALSE(match("/ping", "/pin"));
    EXPECT_FALSE(match("/ping", "/pingx"));
    EXPECT_FALSE(match("/ping", "/PING"));
    EXPECT_TRUE(match("Example.COM", "example.com", Case::insensitive));
    EXPECT_EQ(Wildcard("/ping").shape(), Shape::exact);
}

TEST(Wildcard, EmptyPatternMatchesOnlyEmpty) {
    EXPECT_TRUE(Wildcard().matches(""));
    EXPECT_TRUE(match("", ""));
    EXPECT_FALSE(match("", "a"));
}

TEST(Wildcard, StarMatchesAnyRunIncludingEmpty) {
    EXPECT_TRUE(match("*", ""));
    EXPECT_TRUE(match("*", "anything/at/all"));
    EXPECT_EQ(Wildcard("*").shape(), Shape::any);
    EXPECT_EQ(Wildcard("***").shape(), Shape::any);
    EXPECT_TRUE(match("/api/*", "/api/"));
    EXPECT_TRUE(match("/api/*", "/api/v1/users"));
    EXPECT_FALSE(match("/api/*", "/api"));
    EXPECT_TRUE(match("a*b", "ab"));
    EXPECT_TRUE(match("a**b", "ab"));
    EXPECT_TRUE(match("*x*", "x"));
}

TEST(Wildcard, SeveralStars) {
    EXPECT_TRUE(match("a*b*c", "abc"));
    EXPECT_TRUE(match("a*b*c", "aXbYc"));
    EXPECT_TRUE(match("a*b*c", "abbbcc"));
    EXPECT_TRUE(match("a*b*c", "aXbYcZc"));
    EXPECT_FALSE(match("a*b*c", "acb"));
    EXPECT_FALSE(match("a*b*c", "ab"));
    EXPECT_FALSE(match("a*b*c", "abcX"));
    EXPECT_FALSE(match("a*b*c", "Xabc"));
    EXPECT_FALSE(match("a*bc*bc", "abc"));  // head/tail may not overlap
    EXPECT_TRUE(match("a*bc*bc", "abcbc"));
}

TEST(Wildcard, QuestionMarkIsExactlyOneByte) {
    EXPECT_TRUE(match("a?c", "abc"));
    EXPECT_FALSE(match("a?c", "ac"));
    EXPECT_FALSE(match("a?c", "abbc"));
    EXPECT_FALSE(match("?", ""));
    EXPECT_TRUE(match("?", "?"));
    EXPECT_TRUE(match("??", "ab"));
    EXPECT_TRUE(match("*?", "a"));
    EXPECT_FALSE(match("*?", ""));
    EXPECT_TRUE(match("/v?/*", "/v2/x"));
    EXPECT_TRUE(match("*a?c*", "xxabcyy"));
    EXPECT_TRUE(match("*a?c", "aacabc"));  // tail anchored at the end
}

TEST(Wildcard, CaseInsensitiveFoldsAsciiOnly) {
    EXPECT_TRUE(match("*.Example.com", "WWW.EXAMPLE.COM", Case::insensitive));
    EXPECT_FALSE(match("*.Example.com", "www.example.com", Case::sensitive));
    EXPECT_TRUE(match("A?C*", "abcdef", Case::insensitive));
    EXPECT_TRUE(match("*B*", "abc", Case::insensitive));
    EXPECT_FALSE(match("\xc3\x89", "\xc3\xa9", Case::insensitive));  // É vs é: bytes differ
}

TEST(Wildcard, ShapesAndLiteralEnds) {
    Wildcard prefix("/API/*", Case::insensitive);
    EXPECT_EQ(prefix.shape(), Shape::prefix);
    EXPECT_EQ(prefix.literal_prefix(), "/api/");
    EXPECT_EQ(prefix.literal_suffix(), "");
    EXPECT_EQ(prefix.pattern(), "/API/*");

    Wildcard suffix("*.example.com");
    EXPECT_EQ(suffix.shape(), Shape::suffix);
    EXPECT_EQ(suffix.literal_prefix(), "");
    EXPECT_EQ(suffix.literal_suffix(), ".example.com");

    Wildcard general("/a?/b*.png");
    EXPECT_EQ(general.shape(), Shape::general);
    EXPECT_EQ(general.literal_prefix(), "/a");
    EXPECT_EQ(general.literal_suffix(), ".png");

    Wildcard exact("/x");
    EXPECT_EQ(exact.literal_prefix(), "/x");
    EXPECT_EQ(exact.literal_suffix(), "/x");

    EXPECT_EQ(Wildcard("/v?").shape(), Shape::general);
    EXPECT_EQ(Wildcard("*a*").shape(), Shape::general);
}

TEST(Wildcard, NoExponentialBacktracking) {
    std::string text(20000, 'a');
    EXPECT_FALSE(match("*a*a*a*a*a*a*a*a*a*a*a*a*b", text));
    EXPECT_TRUE(match("*a*a*a*a*a*a*a*a*a*a*a*a*", text));
    EXPECT_FALSE(match("a*a*a*a*a*a*a*a*a*a*?b", text, Case::insensitive));
}

TEST(Wildcard, AgreesWithReferenceOnRandomPatterns) {
    std::mt19937 rng(12345);
    const std::string pattern_alphabet = "abA*?";
    const std::string text_alphabet = "abAB";
    for (int round = 0; round < 20000; ++round) {
        std::string pattern, text;
        int pattern_length = static_cast<int>(rng() % 8);
        int text_length = static_cast<int>(rng() % 10);
        for (int i = 0; i < pattern_length; ++i) pattern += pattern_alphabet[rng() % pattern_alphabet.size()];
        for (int i = 0; i < text_length; ++i) text += text_alphabet[rng() % text_alphabet.size()];
        for (bool fold : {false, true}) {
            Wildcard compiled(pattern, fold ? Case::insensitive : Case::sensitive);
            ASSERT_EQ(compiled.matches(text), reference_match(pattern, text, fold))
                << "pattern '" << pattern << "' text '" << text << "' fold " << fold;
        }
    }
}

TEST(Wildcard, EqualsIgnoreCase) {
    EXPECT_TRUE(iequals("X-Canary", "x-canary"));
    EXPECT_FALSE(iequals("X-Canary", "x-canar"));
    EXPECT_FALSE(iequals("a", "b"));
}

}  // namespace
}  // namespace lb

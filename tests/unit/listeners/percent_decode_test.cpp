#include "lb/http/percent_decode.h"

#include <gtest/gtest.h>

namespace lb {
namespace {

TEST(PercentDecode, DecodesEitherHexCase) {
    EXPECT_EQ(percent_decode("a%20b%2fc%2F"), "a b/c/");
    EXPECT_EQ(percent_decode("%41%42"), "AB");
}

TEST(PercentDecode, KeepsPlusAndMalformedEscapes) {
    EXPECT_EQ(percent_decode("a+b"), "a+b");
    EXPECT_EQ(percent_decode("%zz%4"), "%zz%4");
    EXPECT_EQ(percent_decode("100%"), "100%");
    EXPECT_EQ(percent_decode(""), "");
}

TEST(PercentDecode, WritesIntoACallerBuffer) {
    char out[8];
    size_t length = percent_decode("x%3Dy", out);
    EXPECT_EQ(std::string_view(out, length), "x=y");
}

}  // namespace
}  // namespace lb

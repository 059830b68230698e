#include "conf/units.h"

#include <gtest/gtest.h>

namespace lb::conf {
namespace {

using namespace std::chrono_literals;

TEST(ParseDuration, SingleUnits) {
    EXPECT_EQ(parse_duration("250ms"), Duration(250));
    EXPECT_EQ(parse_duration("10s"), Duration(10s));
    EXPECT_EQ(parse_duration("5m"), Duration(5min));
    EXPECT_EQ(parse_duration("1h"), Duration(1h));
    EXPECT_EQ(parse_duration("7d"), Duration(std::chrono::days(7)));
    EXPECT_EQ(parse_duration("0s"), Duration(0));
}

TEST(ParseDuration, CompoundSums) {
    EXPECT_EQ(parse_duration("1h30m"), Duration(90min));
    EXPECT_EQ(parse_duration("1m30s500ms"), Duration(90500));
    EXPECT_EQ(parse_duration("2d12h"), Duration(60h));
}

TEST(ParseDuration, RejectsWhatIsNotANumberWithAUnit) {
    for (const char* bad : {"", "10", "0", "-5s", "+5s", "s", "10x", "1.5s", "10 s", " 10s", "10s ", "1h30", "10S",
                            "10M", "ms", "5mss", "abc"})
        EXPECT_FALSE(parse_duration(bad)) << bad;
}

TEST(ParseDuration, RejectsOverflowAndValuesPastTheCap) {
    EXPECT_FALSE(parse_duration("99999999999999999999s"));
    EXPECT_FALSE(parse_duration("18446744073709551615d"));
    EXPECT_FALSE(parse_duration("3651d"));
    EXPECT_EQ(parse_duration("3650d"), max_duration);
}

TEST(FormatDuration, ShortestExactSpelling) {
    EXPECT_EQ(format_duration(0s), "0s");
    EXPECT_EQ(format_duration(90s), "1m30s");
    EXPECT_EQ(format_duration(Duration(1500)), "1s500ms");
    EXPECT_EQ(format_duration(std::chrono::days(7)), "7d");
    EXPECT_EQ(format_duration(3600s), "1h");
}

TEST(ParseSize, BytesAndBinaryUnits) {
    EXPECT_EQ(parse_size("0"), 0u);
    EXPECT_EQ(parse_size("512"), 512u);
    EXPECT_EQ(parse_size("512b"), 512u);
    EXPECT_EQ(parse_size("64k"), 64u * 1024);
    EXPECT_EQ(parse_size("64K"), 64u * 1024);
    EXPECT_EQ(parse_size("64kb"), 64u * 1024);
    EXPECT_EQ(parse_size("64KiB"), 64u * 1024);
    EXPECT_EQ(parse_size("1m"), 1024u * 1024);
    EXPECT_EQ(parse_size("1MB"), 1024u * 1024);
    EXPECT_EQ(parse_size("2g"), 2ull << 30);
}

TEST(ParseSize, RejectsGarbageAndOverflow) {
    for (const char* bad : {"", "k", "-1", "1.5m", "10t", "10 k", "10kk", "10ki", "18446744073709551616",
                            "17179869184g"})
        EXPECT_FALSE(parse_size(bad)) << bad;
}

TEST(FormatSize, ReadsBack) {
    EXPECT_EQ(format_size(64 * 1024), "64k");
    EXPECT_EQ(format_size(1024 * 1024), "1m");
    EXPECT_EQ(format_size(1000), "1000");
    EXPECT_EQ(format_size(0), "0");
    for (uint64_t n : {0ull, 1ull, 1024ull, 1536ull, 1ull << 30})
        EXPECT_EQ(parse_size(format_size(n)), n);
}

}  // namespace
}  // namespace lb::conf

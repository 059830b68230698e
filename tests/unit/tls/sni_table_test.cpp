#include "tls/sni_table.h"

#include <gtest/gtest.h>

namespace lb::tls {
namespace {

TEST(SniTable, ExactNameWins) {
    SniTable table;
    table.add("*.example.com", 1);
    table.add("api.example.com", 2);
    EXPECT_EQ(table.find("api.example.com"), 2u);
    EXPECT_EQ(table.find("www.example.com"), 1u);
}

TEST(SniTable, WildcardCoversExactlyOneLabel) {
    SniTable table;
    table.add("*.example.com", 1);
    EXPECT_EQ(table.find("a.example.com"), 1u);
    EXPECT_EQ(table.find("a.b.example.com"), std::nullopt);
    EXPECT_EQ(table.find("example.com"), std::nullopt);
    EXPECT_EQ(table.find(".example.com"), std::nullopt);
}

TEST(SniTable, DeeperWildcardTakesItsOwnLevel) {
    SniTable table;
    table.add("*.example.com", 1);
    table.add("*.eu.example.com", 2);
    EXPECT_EQ(table.find("x.eu.example.com"), 2u);
    EXPECT_EQ(table.find("eu.example.com"), 1u);
}

TEST(SniTable, CaseAndTrailingDotIgnored) {
    SniTable table;
    table.add("WWW.Example.COM", 3);
    table.add("*.Shop.Example.com.", 4);
    EXPECT_EQ(table.find("www.example.com"), 3u);
    EXPECT_EQ(table.find("WWW.EXAMPLE.COM."), 3u);
    EXPECT_EQ(table.find("Cart.SHOP.example.com"), 4u);
}

TEST(SniTable, FirstSlotKeepsAName) {
    SniTable table;
    table.add("a.example.com", 0);
    table.add("a.example.com", 5);
    table.add("*.example.com", 1);
    table.add("*.example.com", 6);
    EXPECT_EQ(table.find("a.example.com"), 0u);
    EXPECT_EQ(table.find("b.example.com"), 1u);
}

TEST(SniTable, MalformedPatternsAreNotRegistered) {
    SniTable table;
    table.add("*.com", 1);             // a whole TLD
    table.add("f*.example.com", 2);    // partial label
    table.add("*.*.example.com", 3);   // two wildcards
    table.add("bad name.example", 4);  // space
    EXPECT_TRUE(table.empty());
    EXPECT_EQ(table.find("foo.example.com"), std::nullopt);
    EXPECT_EQ(table.find("x.com"), std::nullopt);
}

TEST(SniTable, UnknownAndInvalidNamesFindNothing) {
    SniTable table;
    table.add("a.example.com", 0);
    table.add("*.example.com", 1);
    EXPECT_EQ(table.find("other.test"), std::nullopt);
    EXPECT_EQ(table.find(""), std::nullopt);
    EXPECT_EQ(table.find("*.example.com"), std::nullopt);  // a wildcard is no server name
    EXPECT_EQ(table.find("a.example.com\n"), std::nullopt);
}

}  // namespace
}  // namespace lb::tls

#include "conf/patterns.h"

#include <gtest/gtest.h>

#include "conf/status_matcher.h"

namespace lb::conf {
namespace {

TEST(HostPattern, AcceptsNamesAndWildcards) {
    for (const char* good : {"example.com", "*.example.com", "api-?.example.com", "EXAMPLE.com", "*"})
        EXPECT_EQ(check_host_pattern(good), std::nullopt) << good;
}

TEST(HostPattern, RejectsBadCharactersAndGlobSyntax) {
    EXPECT_EQ(check_host_pattern(""), "must not be empty");
    EXPECT_EQ(check_host_pattern("a_b.com"),
              "host may only contain letters, digits, '-', '.', '*' and '?'; '_' is not allowed");
    EXPECT_EQ(check_host_pattern("example.com:8080"),
              "host may only contain letters, digits, '-', '.', '*' and '?'; ':' is not allowed");
    EXPECT_EQ(check_host_pattern("[ab].example.com"), "only '*' and '?' are wildcards; '[' is not allowed");
    EXPECT_EQ(check_host_pattern(std::string(129, 'a')), "must be at most 128 characters");
    EXPECT_EQ(check_host_pattern(std::string(128, 'a')), std::nullopt);
}

TEST(PathPattern, Rules) {
    EXPECT_EQ(check_path_pattern("/api/*"), std::nullopt);
    EXPECT_EQ(check_path_pattern("*"), std::nullopt);
    EXPECT_EQ(check_path_pattern("/a?c"), std::nullopt);
    EXPECT_EQ(check_path_pattern("api/*"), "must start with '/'");
    EXPECT_EQ(check_path_pattern("*/api"), "must start with '/'");
    EXPECT_EQ(check_path_pattern("/a b"), "must not contain whitespace");
    EXPECT_EQ(check_path_pattern("/api/{id}"), "only '*' and '?' are wildcards; '{' is not allowed");
    EXPECT_EQ(check_path_pattern("/a\\.b"), "only '*' and '?' are wildcards; '\\' is not allowed");
    EXPECT_EQ(check_path_pattern("/a\nb"), "must not contain control characters");
}

TEST(Method, MustBeAToken) {
    EXPECT_EQ(check_method("GET"), std::nullopt);
    EXPECT_EQ(check_method("M-SEARCH"), std::nullopt);
    EXPECT_EQ(check_method("GE T"), "'GE T' is not an HTTP method");
    EXPECT_EQ(check_method("GET/"), "'GET/' is not an HTTP method");
    EXPECT_EQ(check_method(""), "must not be empty");
}

TEST(Header, NameIsATokenValueIsAPattern) {
    EXPECT_EQ(check_header_name("X-Canary"), std::nullopt);
    EXPECT_EQ(check_header_name("X Canary"), "'X Canary' is not a valid header name");
    EXPECT_EQ(check_header_name("X:Canary"), "'X:Canary' is not a valid header name");
    EXPECT_EQ(check_header_value_pattern("Mozilla/5.0 (X11*"), std::nullopt);
    EXPECT_EQ(check_header_value_pattern("a\r\nb"), "must not contain control characters");
    EXPECT_EQ(check_header_value_pattern(""), "must not be empty");
}

TEST(Query, NoSeparators) {
    EXPECT_EQ(check_query_pattern("v*"), std::nullopt);
    for (const char* bad : {"a=b", "a&b", "a#b", "a b"})
        EXPECT_EQ(check_query_pattern(bad), "must not contain whitespace, '&', '=' or '#'") << bad;
}

TEST(Names, ObjectAndCookieAndHostNames) {
    EXPECT_EQ(check_object_name("api-v2_x.1"), std::nullopt);
    EXPECT_EQ(check_object_name("api v2"), "may only contain letters, digits, '-', '_' and '.'");
    EXPECT_EQ(check_object_name(std::string(65, 'a')), "must be at most 64 characters");
    EXPECT_EQ(check_cookie_name("SESSIONID"), std::nullopt);
    EXPECT_EQ(check_cookie_name("SESSION;ID"), "'SESSION;ID' is not a valid cookie name");
    EXPECT_EQ(check_host_name("backend.internal"), std::nullopt);
    EXPECT_EQ(check_host_name("*.internal"),
              "host name may only contain letters, digits, '-' and '.'; '*' is not allowed");
}

TEST(StatusMatcher, Forms) {
    using Ranges = std::vector<std::pair<int, int>>;
    EXPECT_EQ(parse_status_matcher("200"), (Ranges{{200, 200}}));
    EXPECT_EQ(parse_status_matcher("200-399"), (Ranges{{200, 399}}));
    EXPECT_EQ(parse_status_matcher("200,204"), (Ranges{{200, 200}, {204, 204}}));
    EXPECT_EQ(parse_status_matcher("200, 300-399"), (Ranges{{200, 200}, {300, 399}}));
}

TEST(StatusMatcher, Rejects) {
    for (const char* bad : {"", "20", "2000", "099", "600", "399-200", "200,", ",200", "200-", "abc", "200;204",
                            "200--300", "+200"})
        EXPECT_FALSE(parse_status_matcher(bad)) << bad;
}

}  // namespace
}  // namespace lb::conf

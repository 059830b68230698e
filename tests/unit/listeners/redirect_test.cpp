#include "listeners/redirect.h"

#include <gtest/gtest.h>

namespace lb {
namespace {

RedirectRequest request(std::string_view protocol = "http", std::string_view host = "example.com",
                        std::string_view port = "80", std::string_view path = "/a/b",
                        std::string_view query = "x=1") {
    return {protocol, host, port, path, query};
}

TEST(Redirect, DefaultFieldsKeepTheRequest) {
    conf::RedirectAction action;  // every field a placeholder
    EXPECT_EQ(redirect_location(action, request()), "http://example.com/a/b?x=1");
    EXPECT_EQ(redirect_location(action, request("https", "example.com", "8443")),
              "https://example.com:8443/a/b?x=1");
}

TEST(Redirect, HttpToHttps301) {
    conf::RedirectAction action;
    action.protocol = "HTTPS";
    action.port = "443";
    action.status = 301;
    EXPECT_EQ(redirect_location(action, request()), "https://example.com/a/b?x=1");
}

TEST(Redirect, ProtocolLowerCasedAndPortKeptWhenNotDefaultForIt) {
    conf::RedirectAction action;
    action.protocol = "HTTPS";  // port stays #{port} = 80, not https's default
    EXPECT_EQ(redirect_location(action, request()), "https://example.com:80/a/b?x=1");
    action.protocol = "HTTP";
    EXPECT_EQ(redirect_location(action, request("https", "example.com", "443")),
              "http://example.com:443/a/b?x=1");
}

TEST(Redirect, DefaultPortOmitted) {
    conf::RedirectAction action;
    EXPECT_EQ(redirect_location(action, request("http", "h", "80", "/", "")), "http://h/");
    EXPECT_EQ(redirect_location(action, request("https", "h", "443", "/", "")), "https://h/");
    EXPECT_EQ(redirect_location(action, request("http", "h", "8080", "/", "")), "http://h:8080/");
    action.port = "";
    EXPECT_EQ(redirect_location(action, request("http", "h", "8080", "/", "")), "http://h/");
}

TEST(Redirect, EveryPlaceholder) {
    conf::RedirectAction action;
    action.protocol = "#{protocol}";
    action.host = "new.#{host}";
    action.port = "#{port}";
    action.path = "/new/#{path}/#{protocol}/#{host}/#{port}";
    action.query = "#{query}&from=#{host}";
    EXPECT_EQ(redirect_location(action, request("https", "ex.com", "8443", "/p/q", "a=1")),
              "https://new.ex.com:8443/new/p/q/https/ex.com/8443?a=1&from=ex.com");
}

TEST(Redirect, PathPlaceholderDropsLeadingSlash) {
    conf::RedirectAction action;
    action.path = "/old/#{path}";
    EXPECT_EQ(redirect_location(action, request("http", "h", "80", "/x/y", "")), "http://h/old/x/y");
    action.path = "/#{path}";
    EXPECT_EQ(redirect_location(action, request("http", "h", "80", "/", "")), "http://h/");
    action.path = "#{path}";  // a Location path stays absolute
    EXPECT_EQ(redirect_location(action, request("http", "h", "80", "/x", "")), "http://h/x");
}

TEST(Redirect, EmptyQueryHasNoQuestionMark) {
    conf::RedirectAction action;
    EXPECT_EQ(redirect_location(action, request("http", "h", "80", "/p", "")), "http://h/p");
    action.query = "fixed=1";
    EXPECT_EQ(redirect_location(action, request("http", "h", "80", "/p", "x=2")), "http://h/p?fixed=1");
    action.query = "?lead=1";
    EXPECT_EQ(redirect_location(action, request("http", "h", "80", "/p", "")), "http://h/p?lead=1");
}

TEST(Redirect, PercentEncodingPassesThrough) {
    conf::RedirectAction action;
    EXPECT_EQ(redirect_location(action, request("http", "h", "80", "/a%20b", "q=%2F")),
              "http://h/a%20b?q=%2F");
}

TEST(Redirect, UnknownPlaceholderKeptLiterally) {
    conf::RedirectAction action;
    action.path = "/#{nope}/#{path";
    EXPECT_EQ(redirect_location(action, request("http", "h", "80", "/x", "")), "http://h/#{nope}/#{path");
}

}  // namespace
}  // namespace lb

// The nginx configuration reader: tokens, blocks, errors with file:line,
// include with globs.
#include "conf/nginx_reader.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace lb::conf {
namespace {

using testing::TempDir;

std::vector<NginxDirective> parse_ok(const std::string& text) {
    auto result = parse_nginx_text(text, "nginx.conf");
    EXPECT_TRUE(result.ok()) << result.error();
    return result.ok() ? result.value() : std::vector<NginxDirective>{};
}

std::string parse_error(const std::string& text) {
    auto result = parse_nginx_text(text, "nginx.conf");
    return result.ok() ? "ok" : result.error();
}

TEST(NginxReader, DirectivesArgumentsAndLines) {
    auto top = parse_ok("worker_processes 4;\n\nevents {\n  worker_connections 768;\n}\n");
    ASSERT_EQ(top.size(), 2u);
    EXPECT_EQ(top[0].name, "worker_processes");
    EXPECT_EQ(top[0].args, std::vector<std::string>{"4"});
    EXPECT_EQ(top[0].line, 1);
    EXPECT_FALSE(top[0].has_block);
    EXPECT_EQ(top[1].name, "events");
    EXPECT_TRUE(top[1].has_block);
    EXPECT_EQ(top[1].line, 3);
    ASSERT_EQ(top[1].block.size(), 1u);
    EXPECT_EQ(top[1].block[0].line, 4);
    EXPECT_EQ(top[1].block[0].where(), "nginx.conf:4");
}

TEST(NginxReader, NestedBlocksAndEmptyBlocks) {
    auto top = parse_ok("http { server { location / { } location /a {proxy_pass http://x;} } }");
    ASSERT_EQ(top.size(), 1u);
    const NginxDirective& server = top[0].block.at(0);
    ASSERT_EQ(server.children("location").size(), 2u);
    EXPECT_TRUE(server.block[0].block.empty());
    EXPECT_EQ(server.block[1].block.at(0).args.at(0), "http://x");
    EXPECT_EQ(server.child("location")->args.at(0), "/");
    EXPECT_EQ(server.child("nothing"), nullptr);
}

TEST(NginxReader, QuotesAndEscapes) {
    auto top = parse_ok(R"(a "two words" 'single "inner"' "esc \"q\" \\ \t\n \x" un\ quoted "" ;)");
    ASSERT_EQ(top.size(), 1u);
    const auto& args = top[0].args;
    ASSERT_EQ(args.size(), 5u);
    EXPECT_EQ(args[0], "two words");
    EXPECT_EQ(args[1], "single \"inner\"");
    EXPECT_EQ(args[2], "esc \"q\" \\ \t\n \\x");  // an unknown escape is kept as written
    EXPECT_EQ(args[3], "un\\ quoted");  // as nginx: the backslash stays, the space joins
    EXPECT_EQ(args[4], "");
}

TEST(NginxReader, QuotedTextMaySpanLinesAndHoldSpecialCharacters) {
    auto top = parse_ok("return 200 \"a;b{c}#d\nsecond line\";\nnext 1;");
    ASSERT_EQ(top.size(), 2u);
    EXPECT_EQ(top[0].args.at(1), "a;b{c}#d\nsecond line");
    EXPECT_EQ(top[1].line, 3);
}

TEST(NginxReader, CommentsOnlyAtTheStartOfAWord) {
    auto top = parse_ok("# whole line\nlisten 80; # trailing\nset $a x#y;  # x#y is one word\n");
    ASSERT_EQ(top.size(), 2u);
    EXPECT_EQ(top[0].args, std::vector<std::string>{"80"});
    EXPECT_EQ(top[1].args.at(1), "x#y");
    EXPECT_EQ(top[1].line, 3);
}

TEST(NginxReader, DollarBraceDoesNotOpenABlock) {
    auto top = parse_ok("add_header X-Id ${request_id}-x;\nif ($a) { return 403; }");
    ASSERT_EQ(top.size(), 2u);
    EXPECT_EQ(top[0].args.at(1), "${request_id}-x");
    EXPECT_TRUE(top[1].has_block);
    EXPECT_EQ(top[1].args.at(0), "($a)");
}

TEST(NginxReader, ClosingBraceInsideAWordIsPartOfIt) {
    // As in nginx: '}' ends a block only at the start of a word.
    auto top = parse_ok("a b}c;");
    ASSERT_EQ(top.size(), 1u);
    EXPECT_EQ(top[0].args.at(0), "b}c");
}

TEST(NginxReader, MissingSemicolonNamesTheDirectiveAndLine) {
    EXPECT_EQ(parse_error("events {}\nworker_processes 4\n"),
              "nginx.conf:2: unexpected end of file, expecting \";\" or \"}\" after directive \"worker_processes\"");
    EXPECT_EQ(parse_error("http {\n  server {\n    listen 80\n  }\n}\n"),
              "nginx.conf:4: unexpected \"}\": directive \"listen\" has no \";\"");
}

TEST(NginxReader, MissingOrExtraBraces) {
    EXPECT_EQ(parse_error("http {\n  server {\n  }\n"), "nginx.conf:1: unexpected end of file, expecting \"}\" for the \"{\" here");
    EXPECT_EQ(parse_error("events {}\n}\n"), "nginx.conf:2: unexpected \"}\"");
    EXPECT_EQ(parse_error("a;\n;\n"), "nginx.conf:2: unexpected \";\"");
    EXPECT_EQ(parse_error("{ a; }"), "nginx.conf:1: unexpected \"{\"");
}

TEST(NginxReader, QuoteErrors) {
    EXPECT_EQ(parse_error("a \"open\n\n"), "nginx.conf:1: unexpected end of file inside a quoted string");
    EXPECT_EQ(parse_error("a \"x\"y;"), "nginx.conf:1: unexpected \"y\" after a quoted string");
}

TEST(NginxReader, IncludeIsRelativeToTheMainFilesDirectory) {
    TempDir dir;
    dir.write("snippets/proxy.conf", "proxy_set_header Host $host;\n");
    // Included from sites/a.conf, but taken from the main file's directory, as nginx does.
    dir.write("sites/a.conf", "server {\n  listen 80;\n  include snippets/proxy.conf;\n}\n");
    std::string main = dir.write("nginx.conf", "http {\n  include sites/a.conf;\n}\n");
    auto result = read_nginx_config(main);
    ASSERT_TRUE(result.ok()) << result.error();
    const NginxDirective& server = result->at(0).block.at(0);
    EXPECT_EQ(server.name, "server");
    EXPECT_EQ(server.file, (dir.path() / "sites/a.conf").string());
    EXPECT_EQ(server.line, 1);
    const NginxDirective& header = server.block.at(1);
    EXPECT_EQ(header.name, "proxy_set_header");
    EXPECT_EQ(header.file, (dir.path() / "snippets/proxy.conf").string());
    EXPECT_EQ(header.line, 1);
}

TEST(NginxReader, GlobIncludesInSortedOrderAndMayMatchNothing) {
    TempDir dir;
    dir.write("conf.d/b.conf", "b;\n");
    dir.write("conf.d/a.conf", "a;\n");
    dir.write("conf.d/c.txt", "not_me;\n");
    std::string main = dir.write("nginx.conf", "first;\ninclude conf.d/*.conf;\ninclude none/*.conf;\nlast;\n");
    auto result = read_nginx_config(main);
    ASSERT_TRUE(result.ok()) << result.error();
    std::vector<std::string> names;
    for (const auto& d : *result) names.push_back(d.name);
    EXPECT_EQ(names, (std::vector<std::string>{"first", "a", "b", "last"}));
    // Reading order numbers every directive across files.
    EXPECT_LT(result->at(1).ordinal, result->at(2).ordinal);
    EXPECT_LT(result->at(2).ordinal, result->at(3).ordinal);
}

TEST(NginxReader, MissingIncludeNamesTheIncludeLine) {
    TempDir dir;
    std::string main = dir.write("nginx.conf", "events {}\ninclude missing.conf;\n");
    auto result = read_nginx_config(main);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error(), main + ":2: include: " + (dir.path() / "missing.conf").string() +
                                  ": cannot read: No such file or directory");
}

TEST(NginxReader, SyntaxErrorInAnIncludedFileNamesThatFile) {
    TempDir dir;
    std::string inner = dir.write("inner.conf", "a 1;\nb 2\n");
    std::string main = dir.write("nginx.conf", "include inner.conf;\n");
    auto result = read_nginx_config(main);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error(), inner + ":2: unexpected end of file, expecting \";\" or \"}\" after directive \"b\"");
}

TEST(NginxReader, IncludeLoopIsAnError) {
    TempDir dir;
    std::string main = dir.write("nginx.conf", "include nginx.conf;\n");
    auto result = read_nginx_config(main);
    ASSERT_FALSE(result.ok());
    EXPECT_NE(result.error().find("include nested more than"), std::string::npos) << result.error();
}

TEST(NginxReader, UnreadableMainFile) {
    auto result = read_nginx_config("/nonexistent/nginx.conf");
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error(), "/nonexistent/nginx.conf: cannot read: No such file or directory");
}

}  // namespace
}  // namespace lb::conf

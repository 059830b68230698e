// lb/routing/rewrites.h: header edits on a head (remove, then set, then add;
// names case-insensitive), every #{...} variable's value, the lines lb's own
// answers get, and the path rewrite.
#include "lb/routing/rewrites.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "conf/header_template.h"

namespace lb {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

conf::HeaderTemplate header(const std::string& name, const std::string& value) {
    conf::ParsedTemplate parsed = conf::parse_header_template(value);
    EXPECT_EQ(parsed.error, "") << value;
    conf::HeaderTemplate out;
    out.name = name;
    out.value = value;
    out.pieces = std::move(parsed.pieces);
    return out;
}

HttpHead head_with(Fields fields) {
    HttpHead head;
    head.method = "GET";
    head.url = "/";
    head.headers = std::move(fields);
    return head;
}

HeaderVariables sample_variables() {
    HeaderVariables v;
    v.client_ip = "192.0.2.7";
    v.client_port = 51234;
    v.host = "app.example";
    v.scheme = "https";
    v.server_port = 8443;
    v.method = "PATCH";
    v.request_uri = "/a/b?x=1";
    v.request_id = "0123456789abcdef0123456789abcdef";
    v.listener = "web";
    v.rule = 20;
    v.target_group = "api";
    v.target = "10.0.0.5:9000";
    return v;
}

// The value a single `set` of `value` gives, with `v`.
std::string expand(const std::string& value, const HeaderVariables& v = sample_variables()) {
    conf::HeaderEdits edits;
    edits.set.push_back(header("X-Out", value));
    HttpHead head = head_with({});
    apply_header_edits(head, edits, v);
    auto out = head.header("x-out");
    return out ? std::string(*out) : std::string("<none>");
}

// ---------------------------------------------------------------- apply_header_edits

TEST(HeaderEdits, RemoveDropsEveryFieldOfTheNameWhateverItsCase) {
    HttpHead head = head_with({{"Accept", "a"}, {"X-Debug", "1"}, {"Host", "h"}, {"x-debug", "2"}, {"X-DEBUG", "3"}});
    conf::HeaderEdits edits;
    edits.remove = {"X-Debug", "absent"};
    apply_header_edits(head, edits, sample_variables());
    EXPECT_EQ(head.headers, (Fields{{"Accept", "a"}, {"Host", "h"}}));
}

TEST(HeaderEdits, SetReplacesInPlaceAndDropsTheOtherFieldsOfTheName) {
    HttpHead head = head_with({{"Accept", "a"}, {"x-real-ip", "forged"}, {"Host", "h"}, {"X-Real-IP", "again"}});
    conf::HeaderEdits edits;
    edits.set.push_back(header("X-Real-IP", "#{client_ip}"));
    apply_header_edits(head, edits, sample_variables());
    // The first field's position and spelling stay; its value is lb's.
    EXPECT_EQ(head.headers, (Fields{{"Accept", "a"}, {"x-real-ip", "192.0.2.7"}, {"Host", "h"}}));
}

TEST(HeaderEdits, SetOfAnAbsentNameAppends) {
    HttpHead head = head_with({{"Host", "h"}});
    conf::HeaderEdits edits;
    edits.set.push_back(header("X-A", "1"));
    edits.set.push_back(header("X-B", "2"));
    apply_header_edits(head, edits, sample_variables());
    EXPECT_EQ(head.headers, (Fields{{"Host", "h"}, {"X-A", "1"}, {"X-B", "2"}}));
}

TEST(HeaderEdits, AddAppendsEvenWhenTheNameIsThere) {
    HttpHead head = head_with({{"Via", "1.1 edge"}, {"Host", "h"}});
    conf::HeaderEdits edits;
    edits.add.push_back(header("Via", "1.1 lb"));
    edits.add.push_back(header("via", "#{listener}"));
    apply_header_edits(head, edits, sample_variables());
    EXPECT_EQ(head.headers, (Fields{{"Via", "1.1 edge"}, {"Host", "h"}, {"Via", "1.1 lb"}, {"via", "web"}}));
}

TEST(HeaderEdits, RemoveRunsBeforeSetAndSetBeforeAdd) {
    HttpHead head = head_with({{"X-A", "client"}, {"X-B", "client"}});
    conf::HeaderEdits edits;
    // Written in the opposite order: the order of the kinds is lb's.
    edits.add.push_back(header("X-A", "added"));
    edits.set.push_back(header("X-A", "set"));
    edits.remove = {"X-A", "X-B"};
    edits.set.push_back(header("X-B", "set"));
    apply_header_edits(head, edits, sample_variables());
    // remove took both client fields; set appended X-A and X-B anew; add
    // appended a second X-A that set did not replace.
    EXPECT_EQ(head.headers, (Fields{{"X-A", "set"}, {"X-B", "set"}, {"X-A", "added"}}));
}

TEST(HeaderEdits, EmptyEditsLeaveTheHeadAlone) {
    HttpHead head = head_with({{"A", "1"}, {"a", "2"}});
    apply_header_edits(head, conf::HeaderEdits{}, sample_variables());
    EXPECT_EQ(head.headers, (Fields{{"A", "1"}, {"a", "2"}}));
}

// ---------------------------------------------------------------- variables

TEST(HeaderVariablesExpand, EveryVariable) {
    EXPECT_EQ(expand("#{client_ip}"), "192.0.2.7");
    EXPECT_EQ(expand("#{client_port}"), "51234");
    EXPECT_EQ(expand("#{host}"), "app.example");
    EXPECT_EQ(expand("#{scheme}"), "https");
    EXPECT_EQ(expand("#{server_port}"), "8443");
    EXPECT_EQ(expand("#{method}"), "PATCH");
    EXPECT_EQ(expand("#{request_uri}"), "/a/b?x=1");
    EXPECT_EQ(expand("#{request_id}"), "0123456789abcdef0123456789abcdef");
    EXPECT_EQ(expand("#{listener}"), "web");
    EXPECT_EQ(expand("#{rule}"), "20");
    EXPECT_EQ(expand("#{target_group}"), "api");
    EXPECT_EQ(expand("#{target}"), "10.0.0.5:9000");
    EXPECT_EQ(expand("for=#{client_ip}:#{client_port}; proto=#{scheme}; by=#{listener}"),
              "for=192.0.2.7:51234; proto=https; by=web");
    EXPECT_EQ(expand("plain text"), "plain text");
    EXPECT_EQ(expand(""), "");
}

TEST(HeaderVariablesExpand, TheDefaultActionIsRuleDefault) {
    HeaderVariables v = sample_variables();
    v.rule = 0;
    EXPECT_EQ(expand("rule #{rule}", v), "rule default");
    v.rule = 1;
    EXPECT_EQ(expand("rule #{rule}", v), "rule 1");
}

TEST(HeaderVariablesExpand, UnsetValuesAreEmpty) {
    HeaderVariables v;  // e.g. no target yet
    EXPECT_EQ(expand("[#{target}][#{target_group}][#{client_port}]", v), "[][][0]");
}

// ---------------------------------------------------------------- lb's own answers, uses_variable

TEST(HeaderLines, SetAndAddAsLinesRemoveIgnored) {
    conf::HeaderEdits edits;
    edits.remove = {"Server"};
    edits.add.push_back(header("X-Add", "#{rule}"));
    edits.set.push_back(header("Strict-Transport-Security", "max-age=63072000"));
    edits.set.push_back(header("X-Host", "#{host}"));
    std::string out = "Location: /x\r\n";
    append_header_lines(out, edits, sample_variables());
    EXPECT_EQ(out,
              "Location: /x\r\n"
              "Strict-Transport-Security: max-age=63072000\r\n"
              "X-Host: app.example\r\n"
              "X-Add: 20\r\n");
    std::string none;
    append_header_lines(none, conf::HeaderEdits{}, sample_variables());
    EXPECT_EQ(none, "");
}

TEST(HeaderLines, UsesVariableLooksAtSetAndAdd) {
    conf::HeaderEdits edits;
    EXPECT_FALSE(uses_variable(edits, conf::HeaderVariable::target));
    edits.remove = {"target"};
    edits.set.push_back(header("X-Target", "target is literal here"));
    EXPECT_FALSE(uses_variable(edits, conf::HeaderVariable::target));
    edits.add.push_back(header("X-Up", "via #{target}"));
    EXPECT_TRUE(uses_variable(edits, conf::HeaderVariable::target));
    EXPECT_FALSE(uses_variable(edits, conf::HeaderVariable::request_id));
    conf::HeaderEdits set_only;
    set_only.set.push_back(header("X-Id", "#{request_id}"));
    EXPECT_TRUE(uses_variable(set_only, conf::HeaderVariable::request_id));
    EXPECT_FALSE(uses_variable(set_only, conf::HeaderVariable::target));
}

// ---------------------------------------------------------------- rewrite_path

conf::PathRewrite rewrite(std::string prefix, std::string replacement) {
    conf::PathRewrite out;
    out.prefix = std::move(prefix);
    out.replacement = std::move(replacement);
    return out;
}

TEST(RewritePath, PrefixReplacedQueryKept) {
    EXPECT_EQ(rewrite_path("/old/a?x=1", rewrite("/old/", "/new/")), "/new/a?x=1");
    EXPECT_EQ(rewrite_path("/api/users/7", rewrite("/api/", "/")), "/users/7");
    EXPECT_EQ(rewrite_path("/api/v1/x?q=/api/", rewrite("/api/", "/v2/")), "/v2/v1/x?q=/api/");
}

TEST(RewritePath, OneSlashBetweenReplacementAndRest) {
    EXPECT_EQ(rewrite_path("/old/a", rewrite("/old", "/new/")), "/new/a");
    EXPECT_EQ(rewrite_path("/old/a", rewrite("/old", "/new")), "/new/a");
    EXPECT_EQ(rewrite_path("/old/a", rewrite("/old/", "/new/")), "/new/a");
    EXPECT_EQ(rewrite_path("/old//a", rewrite("/old/", "/new/")), "/new/a");
    EXPECT_EQ(rewrite_path("/old/a", rewrite("/old", "/")), "/a");
}

TEST(RewritePath, PrefixEqualToTheWholePath) {
    EXPECT_EQ(rewrite_path("/old/", rewrite("/old/", "/new/")), "/new/");
    EXPECT_EQ(rewrite_path("/old", rewrite("/old", "/")), "/");
    EXPECT_EQ(rewrite_path("/old/?x=1", rewrite("/old/", "/")), "/?x=1");
}

TEST(RewritePath, NotMatchingIsNullopt) {
    EXPECT_EQ(rewrite_path("/other/a", rewrite("/old/", "/new/")), std::nullopt);
    EXPECT_EQ(rewrite_path("/old", rewrite("/old/", "/new/")), std::nullopt);  // shorter than the prefix
    EXPECT_EQ(rewrite_path("/OLD/a", rewrite("/old/", "/new/")), std::nullopt);  // case-sensitive
    EXPECT_EQ(rewrite_path("/x/old/a", rewrite("/old/", "/new/")), std::nullopt);  // only at the start
    EXPECT_EQ(rewrite_path("/old/a", conf::PathRewrite{}), std::nullopt);         // no rewrite configured
}

}  // namespace
}  // namespace lb

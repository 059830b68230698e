// What a listener or a forward action changes in what it forwards: header
// edits (request and response) and the path rewrite.
#include "conf/loader.h"

#include "conf/header_template.h"

namespace lb::conf {

namespace {

std::vector<HeaderTemplate> header_templates(const YamlValue& value, HeaderSide side, HeaderEdit edit) {
    std::vector<HeaderTemplate> out;
    auto map = YamlMapping::any_keys(value);
    for (const auto& entry : map.entries()) {
        HeaderTemplate header;
        header.name = entry.key.node().Scalar();
        check(entry.key, check_editable_header(header.name, side, edit));
        header.value = entry.value.scalar("a header value");
        header.pos = entry.value.pos();
        ParsedTemplate parsed = parse_header_template(header.value);
        if (!parsed.error.empty()) entry.value.fail(parsed.error);
        header.pieces = std::move(parsed.pieces);
        if (side == HeaderSide::request && edit == HeaderEdit::set && lower(header.name) == "host" &&
            header.value.empty())
            entry.value.fail("Host must not be empty");
        out.push_back(std::move(header));
    }
    return out;
}

}  // namespace

HeaderEdits Loader::load_header_edits(const YamlValue& value, bool request) {
    YamlMapping map(value, {"set", "add", "remove"});
    HeaderSide side = request ? HeaderSide::request : HeaderSide::response;
    HeaderEdits edits;
    if (auto remove = map.get("remove")) {
        for (const auto& item : remove->items_or_one()) {
            std::string name = item.string();
            check(item, check_editable_header(name, side, HeaderEdit::remove));
            edits.remove.push_back(name);
        }
    }
    if (auto set = map.get("set")) edits.set = header_templates(*set, side, HeaderEdit::set);
    if (auto add = map.get("add")) edits.add = header_templates(*add, side, HeaderEdit::add);
    return edits;
}

HeaderEdits Loader::load_answer_headers(const YamlValue& value) {
    YamlMapping map(value, {"set", "add", "remove"});
    map.reject("remove", "lb's own answer carries only the headers lb writes; remove applies to target responses");
    return load_header_edits(value, false);
}

PathRewrite Loader::load_path_rewrite(const YamlValue& value) {
    YamlMapping map(value, {"prefix", "replacement"});
    PathRewrite rewrite;
    auto prefix = map.require("prefix");
    rewrite.prefix = prefix.string();
    auto replacement = map.require("replacement");
    rewrite.replacement = replacement.string();
    for (auto [text, where] : {std::pair{&rewrite.prefix, &prefix}, std::pair{&rewrite.replacement, &replacement}}) {
        if (text->empty() || text->front() != '/') where->fail("must start with '/'");
        for (char c : *text) {
            // What the target receives must stay a valid origin-form path.
            if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f || c == '?' || c == '#')
                where->fail("must not contain whitespace, control characters, '?' or '#'");
        }
    }
    return rewrite;
}

}  // namespace lb::conf

// nginx configuration syntax: tokens, blocks, includes (see nginx_reader.h).
#include "conf/nginx_reader.h"

#include <glob.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

namespace lb::conf {

namespace fs = std::filesystem;

std::vector<const NginxDirective*> NginxDirective::children(const std::string& child_name) const {
    std::vector<const NginxDirective*> out;
    for (const auto& directive : block)
        if (directive.name == child_name) out.push_back(&directive);
    return out;
}

const NginxDirective* NginxDirective::child(const std::string& child_name) const {
    for (const auto& directive : block)
        if (directive.name == child_name) return &directive;
    return nullptr;
}

namespace {

struct ParseError {
    std::string message;
};

struct Token {
    enum class Kind { word, semicolon, open, close, end };
    Kind kind = Kind::end;
    std::string text;
    int line = 0;
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Undoes the escapes nginx undoes; any other backslash pair stays as written.
void append_escaped(std::string& out, char c) {
    switch (c) {
        case '"': case '\'': case '\\': out.push_back(c); break;
        case 't': out.push_back('\t'); break;
        case 'r': out.push_back('\r'); break;
        case 'n': out.push_back('\n'); break;
        default: out.push_back('\\'); out.push_back(c); break;
    }
}

class Tokenizer {
public:
    Tokenizer(const std::string& text, const std::string& file) : text_(text), file_(file) {}

    Token next() {
        skip_space_and_comments();
        Token token;
        token.line = line_;
        if (at_ >= text_.size()) return token;
        char c = text_[at_];
        if (c == ';' || c == '{' || c == '}') {
            ++at_;
            token.kind = c == ';' ? Token::Kind::semicolon : c == '{' ? Token::Kind::open : Token::Kind::close;
            token.text = std::string(1, c);
            return token;
        }
        token.kind = Token::Kind::word;
        if (c == '"' || c == '\'') {
            token.text = quoted(c);
        } else {
            token.text = bare();
        }
        return token;
    }

    [[noreturn]] void fail(int line, const std::string& message) const {
        throw ParseError{file_ + ":" + std::to_string(line) + ": " + message};
    }

private:
    void skip_space_and_comments() {
        while (at_ < text_.size()) {
            char c = text_[at_];
            if (c == '\n') ++line_;
            if (is_space(c)) {
                ++at_;
            } else if (c == '#') {
                while (at_ < text_.size() && text_[at_] != '\n') ++at_;
            } else {
                return;
            }
        }
    }

    std::string quoted(char quote) {
        int start_line = line_;
        std::string out;
        ++at_;
        while (true) {
            if (at_ >= text_.size()) fail(start_line, "unexpected end of file inside a quoted string");
            char c = text_[at_++];
            if (c == '\n') ++line_;
            if (c == '\\' && at_ < text_.size()) {
                char escaped = text_[at_++];
                if (escaped == '\n') ++line_;
                append_escaped(out, escaped);
                continue;
            }
            if (c == quote) break;
            out.push_back(c);
        }
        // nginx wants a separator right after the closing quote.
        if (at_ < text_.size()) {
            char after = text_[at_];
            if (!is_space(after) && after != ';' && after != '{')
                fail(line_, std::string("unexpected \"") + after + "\" after a quoted string");
        }
        return out;
    }

    std::string bare() {
        std::string out;
        bool variable = false;  // the previous character was '$': "${" does not open a block
        while (at_ < text_.size()) {
            char c = text_[at_];
            if (c == '{' && variable) {
                out.push_back(c);
                ++at_;
                variable = false;
                continue;
            }
            if (is_space(c) || c == ';' || c == '{') break;
            ++at_;
            variable = c == '$';
            if (c == '\\' && at_ < text_.size()) {
                char escaped = text_[at_++];
                if (escaped == '\n') ++line_;
                append_escaped(out, escaped);
                continue;
            }
            out.push_back(c);
        }
        return out;
    }

    const std::string& text_;
    const std::string& file_;
    size_t at_ = 0;
    int line_ = 1;
};

// Directives until the matching '}' (nested) or the end of the file (top).
std::vector<NginxDirective> parse_block(Tokenizer& tokens, const std::string& file, bool nested, int open_line) {
    std::vector<NginxDirective> out;
    NginxDirective current;
    bool started = false;
    while (true) {
        Token token = tokens.next();
        switch (token.kind) {
            case Token::Kind::word:
                if (!started) {
                    current = NginxDirective{};
                    current.name = token.text;
                    current.file = file;
                    current.line = token.line;
                    started = true;
                } else {
                    current.args.push_back(token.text);
                }
                break;
            case Token::Kind::semicolon:
                if (!started) tokens.fail(token.line, "unexpected \";\"");
                out.push_back(std::move(current));
                started = false;
                break;
            case Token::Kind::open:
                if (!started) tokens.fail(token.line, "unexpected \"{\"");
                current.has_block = true;
                current.block = parse_block(tokens, file, true, token.line);
                out.push_back(std::move(current));
                started = false;
                break;
            case Token::Kind::close:
                if (started) tokens.fail(token.line, "unexpected \"}\": directive \"" + current.name + "\" has no \";\"");
                if (!nested) tokens.fail(token.line, "unexpected \"}\"");
                return out;
            case Token::Kind::end:
                if (started)
                    tokens.fail(current.line, "unexpected end of file, expecting \";\" or \"}\" after directive \"" +
                                                  current.name + "\"");
                if (nested) tokens.fail(open_line, "unexpected end of file, expecting \"}\" for the \"{\" here");
                return out;
        }
    }
}

Result<std::string> read_file(const std::string& path) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) return Error{path + ": cannot read: is a directory"};
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error{path + ": cannot read: " + std::strerror(errno)};
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) return Error{path + ": cannot read: " + std::strerror(errno)};
    return text.str();
}

bool has_wildcard(const std::string& path) { return path.find_first_of("*?[") != std::string::npos; }

// Every file a wildcard include names, sorted (glob's own order).
std::vector<std::string> glob_paths(const std::string& pattern) {
    std::vector<std::string> out;
    glob_t matches{};
    if (::glob(pattern.c_str(), 0, nullptr, &matches) == 0) {
        for (size_t i = 0; i < matches.gl_pathc; ++i) out.emplace_back(matches.gl_pathv[i]);
    }
    ::globfree(&matches);
    return out;
}

constexpr int kMaxIncludeDepth = 32;

struct Expander {
    fs::path prefix;  // where relative include paths start

    // Replaces include directives by what they name, recursively.
    std::vector<NginxDirective> expand(std::vector<NginxDirective> directives, int depth) {
        std::vector<NginxDirective> out;
        for (auto& directive : directives) {
            if (directive.name != "include") {
                if (directive.has_block) directive.block = expand(std::move(directive.block), depth);
                out.push_back(std::move(directive));
                continue;
            }
            if (directive.args.size() != 1 || directive.has_block)
                throw ParseError{directive.where() + ": include takes one file name"};
            if (depth >= kMaxIncludeDepth)
                throw ParseError{directive.where() + ": include nested more than " + std::to_string(kMaxIncludeDepth) +
                                 " deep (does a file include itself?)"};
            fs::path target(directive.args[0]);
            if (target.is_relative()) target = prefix / target;
            std::string name = target.lexically_normal().string();
            std::vector<std::string> files;
            if (has_wildcard(name)) {
                files = glob_paths(name);
            } else {
                files.push_back(name);
            }
            for (const auto& file : files) {
                auto text = read_file(file);
                if (!text) throw ParseError{directive.where() + ": include: " + text.error()};
                auto parsed = parse_nginx_text(*text, file);
                if (!parsed) throw ParseError{parsed.error()};
                for (auto& included : expand(std::move(parsed.value()), depth + 1)) out.push_back(std::move(included));
            }
        }
        return out;
    }
};

void number(std::vector<NginxDirective>& directives, int& next) {
    for (auto& directive : directives) {
        directive.ordinal = next++;
        number(directive.block, next);
    }
}

}  // namespace

Result<std::vector<NginxDirective>> parse_nginx_text(const std::string& text, const std::string& file) {
    try {
        Tokenizer tokens(text, file);
        return parse_block(tokens, file, false, 0);
    } catch (const ParseError& e) {
        return Error{e.message};
    }
}

Result<std::vector<NginxDirective>> read_nginx_config(const std::string& path) {
    auto text = read_file(path);
    if (!text) return Error{text.error()};
    return read_nginx_text(*text, path);
}

Result<std::vector<NginxDirective>> read_nginx_text(const std::string& text, const std::string& path) {
    auto parsed = parse_nginx_text(text, path);
    if (!parsed) return parsed;
    Expander expander;
    expander.prefix = fs::path(path).parent_path();
    try {
        auto directives = expander.expand(std::move(parsed.value()), 0);
        int next = 0;
        number(directives, next);
        return directives;
    } catch (const ParseError& e) {
        return Error{e.message};
    }
}

}  // namespace lb::conf

// YAML text -> conf::Config: the schema of the README's "Configuration",
// checked key by key. Each check fails at the node it is about;
// yaml_reader.h supplies positions, key paths, types and unknown-key
// detection. Where the README is silent the choice is the one an nginx /
// HAProxy / ALB operator would expect, noted in place. This file holds the
// entry points and the order sections are read in; each section is its own
// loader_*.cpp (conf/loader.h).
#include "conf/config_loader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <sstream>
#include <system_error>

#include "conf/loader.h"
#include "lb/base/ascii.h"
#include "lb/base/unique_fd.h"

namespace lb::conf {

namespace fs = std::filesystem;

std::string lower(std::string text) { return ascii_lower(std::move(text)); }

std::string upper(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::toupper(c); });
    return text;
}

// "a, b or c"
std::string one_of(const std::vector<std::string_view>& names) {
    std::string out;
    for (size_t i = 0; i < names.size(); ++i) {
        if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
        out += names[i];
    }
    return out;
}

SocketAddress listen_address(const YamlValue& value) {
    const std::string text = value.string();
    auto address = SocketAddress::parse(text);
    if (!address) value.fail("invalid address '" + text + "': use ip:port, [ipv6]:port or *:port");
    if (address->port() == 0) value.fail("port must be between 1 and 65535");
    return *address;
}

std::vector<Cidr> cidr_list(const YamlValue& value) {
    std::vector<Cidr> out;
    for (const auto& item : value.items_or_one()) {
        std::string text = item.string();
        auto cidr = Cidr::parse(text);
        if (!cidr) item.fail("invalid CIDR '" + text + "'");
        out.push_back(*cidr);
    }
    return out;
}

Config Loader::load(const YAML::Node& root_node) {
    YamlValue root(file_, root_node, root_node.Mark(), "");
    if (root.is_null()) root.fail("at least one listener is required");
    YamlMapping top(root, {"global", "listeners", "target_groups"});
    config_.path = file_;

    config_.global.pos = root.with_path("global").pos();
    if (auto global = top.get("global")) load_global(*global);

    // Target groups first so listeners can check references as they go,
    // whatever order the sections are written in.
    if (auto groups = top.get("target_groups"))
        for (const auto& item : groups->items()) config_.target_groups.push_back(load_target_group(item));

    auto listeners = top.get("listeners");
    if (!listeners) root.fail("at least one listener is required");
    auto items = listeners->items();
    if (items.empty()) listeners->fail("at least one listener is required");
    for (const auto& item : items) config_.listeners.push_back(load_listener(item));
    return std::move(config_);
}

std::string Loader::resolve_path(const YamlValue& value) {
    fs::path path(value.string());
    if (path.is_relative()) path = base_dir_ / path;
    return path.lexically_normal().string();
}

std::string Loader::readable_file(const YamlValue& value) {
    std::string path = resolve_path(value);
    // O_NONBLOCK: a FIFO given by mistake must not hang the check.
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
    if (!fd) value.fail("cannot read '" + path + "': " + std::error_code(errno, std::system_category()).message());
    struct stat st {};
    bool directory = ::fstat(fd.get(), &st) == 0 && S_ISDIR(st.st_mode);
    if (directory) value.fail("'" + path + "' is a directory, not a file");
    return path;
}

namespace {

// ---------------------------------------------------------------- entry points

// An error is one line of text (lb -t prints it, a reload logs it, the admin
// API returns it), but messages quote the file: a control character quoted
// from it (yaml-cpp's "unknown escape character" names the byte) is shown
// as \xHH.
Error one_line(const std::string& message) { return Error{escape_controls(message)}; }

// What the YAML stream holds beyond its first document, read through
// yaml-cpp's parser events rather than YAML::LoadAll: on some input (a ','
// outside any flow collection) yaml-cpp 0.7 yields empty documents forever
// without reading on, and LoadAll collects them until memory runs out.
class DocumentScan : public YAML::EventHandler {
public:
    int documents = 0;
    std::optional<YAML::Mark> stuck;        // a document started where the previous one did
    std::optional<YAML::Mark> second_root;  // the first content of a later document

    void OnDocumentStart(const YAML::Mark& mark) override {
        if (documents > 0 && mark.pos == last_start_.pos) stuck = mark;
        last_start_ = mark;
        ++documents;
    }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { content(mark); }
    void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t, const std::string&) override {
        content(mark);
    }
    void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
        content(mark);
    }
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
        content(mark);
    }
    void OnMapEnd() override {}

private:
    void content(const YAML::Mark& mark) {
        if (documents > 1 && !second_root) second_root = mark;
    }
    YAML::Mark last_start_;
};

Result<Config> load(const std::string& text, const std::string& name, const fs::path& base_dir) {
    auto error_at = [&](const YAML::Mark& mark, const std::string& message) {
        SourcePos pos;
        pos.file = name;
        pos.line = mark.is_null() ? 0 : mark.line + 1;
        pos.column = mark.is_null() ? 0 : mark.column + 1;
        return one_line(pos.format(message));
    };
    YAML::Node document;
    try {
        std::istringstream stream(text);
        YAML::Parser parser(stream);
        DocumentScan scan;
        while (parser.HandleNextDocument(scan)) {
            // Every document takes at least one byte: more is the same loop.
            if (!scan.stuck && static_cast<size_t>(scan.documents) > text.size() + 1) scan.stuck = YAML::Mark();
            if (scan.stuck) {
                size_t at = static_cast<size_t>(scan.stuck->pos);
                std::string what = at < text.size() ? "'" + text.substr(at, 1) + "'" : "this";
                return error_at(*scan.stuck, "unexpected " + what + " (not valid YAML here)");
            }
            if (scan.second_root) return error_at(*scan.second_root, "only one YAML document is allowed");
        }
        if (scan.documents > 0) document = YAML::Load(text);
    } catch (const YAML::Exception& e) {
        std::string message = e.msg;
        // "listen: *:80" is an alias to YAML; the fix is not obvious.
        if (message == YAML::ErrorMsg::UNKNOWN_ANCHOR) message += " (quote values that start with '*', like \"*:80\")";
        return error_at(e.mark, message);
    }
    try {
        Loader loader(name, base_dir);
        return loader.load(document);
    } catch (const ConfigError& e) {
        return one_line(e.what());
    } catch (const YAML::Exception& e) {
        // Not expected: every access above is type-checked first.
        return one_line(name + ": " + e.what());
    }
}

fs::path directory_of(const std::string& path) {
    std::error_code ec;
    fs::path absolute = fs::absolute(path.empty() ? fs::path(".") : fs::path(path), ec);
    return ec ? fs::current_path(ec) : absolute.parent_path();
}

}  // namespace

Result<Config> load_config_file(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return Error{path + ": cannot read: " + std::error_code(errno, std::system_category()).message()};
    std::string text;
    char buffer[64 * 1024];
    while (true) {
        ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            return Error{path + ": cannot read: " + std::error_code(errno, std::system_category()).message()};
        }
        if (n == 0) break;
        text.append(buffer, static_cast<size_t>(n));
    }
    return load(text, path, directory_of(path));
}

std::string escape_controls(std::string_view text, bool keep_newlines) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        auto byte = static_cast<unsigned char>(c);
        if ((byte >= 0x20 && byte != 0x7f) || (keep_newlines && c == '\n')) {
            out.push_back(c);
            continue;
        }
        out += "\\x";
        out.push_back(kHex[byte >> 4]);
        out.push_back(kHex[byte & 0xf]);
    }
    return out;
}

Result<Config> load_config_string(const std::string& yaml, const std::string& name) {
    // Relative paths resolve against the directory `name` would be in.
    return load(yaml, name, directory_of(name));
}

}  // namespace lb::conf

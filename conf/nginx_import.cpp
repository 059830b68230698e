// `lb import-nginx`: the entry point, nginx's main and events contexts,
// and the check of the result with lb's own loader (see nginx_import.h).
#include "conf/nginx_import.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "conf/config_loader.h"
#include "conf/nginx_importer.h"
#include "conf/nginx_patterns.h"
#include "conf/nginx_yaml.h"
#include "conf/units.h"
#include "lb/base/net_address.h"
#include "lb/base/unique_fd.h"

namespace lb::conf {

namespace fs = std::filesystem;

namespace nginx {

std::vector<const NginxDirective*> Scope::all(std::initializer_list<const char*> names) const {
    for (auto level = levels_.rbegin(); level != levels_.rend(); ++level) {
        std::vector<const NginxDirective*> out;
        for (const auto& directive : (*level)->block)
            for (const char* name : names)
                if (directive.name == name) out.push_back(&directive);
        if (!out.empty()) return out;
    }
    return {};
}

const NginxDirective* Scope::last(const char* name) const {
    auto found = all(name);
    return found.empty() ? nullptr : found.back();
}

namespace {

// `base` made a valid lb name, with -2, -3, ... until no item has it.
template <class Items>
std::string unique_name(const std::string& base, const Items& items) {
    std::string name = safe_name(base);
    auto taken = [&](const std::string& candidate) {
        return std::any_of(items.begin(), items.end(), [&](const auto& item) { return item.name == candidate; });
    };
    for (int n = 2; taken(name); ++n) name = safe_name(base) + "-" + std::to_string(n);
    return name;
}

}  // namespace

std::string Importer::unique_listener_name(const std::string& base) { return unique_name(base, model_.listeners); }

std::string Importer::unique_group_name(const std::string& base) { return unique_name(base, model_.groups); }

bool Importer::claim_listen(const std::string& listen, bool udp, const NginxDirective& at) {
    auto address = SocketAddress::parse(listen);
    if (!address) return false;
    auto overlaps = [&](const SocketAddress& other) {
        return other.port() == address->port() && other.family() == address->family() &&
               (other == *address || other.is_any() || address->is_any());
    };
    for (const auto& listener : model_.listeners) {
        auto other = SocketAddress::parse(listener.listen);
        if (!other || (listener.protocol == "udp") != udp || !overlaps(*other)) continue;
        report_.unsupported(at, listen + " is already taken by listener " + listener.name +
                                    " (nginx could not bind both either); left out");
        return false;
    }
    if (!udp && !model_.global.admin_disabled && overlaps(*SocketAddress::parse("127.0.0.1:9901"))) {
        model_.global.admin_disabled = true;
        report_.attention(at, "lb's admin API listens on 127.0.0.1:9901 by default; it was turned off "
                              "(global.admin) to leave the port to this listener");
    }
    return true;
}

std::string Importer::absolute(const std::string& path) const {
    fs::path out(path);
    if (out.is_relative()) out = fs::absolute(fs::path(conf_dir_) / out);
    return out.lexically_normal().string();
}

std::optional<int64_t> Importer::duration_arg(const NginxDirective& directive, size_t index) {
    if (directive.args.size() <= index) {
        report_.unsupported(directive, "expected a time value; left out");
        return std::nullopt;
    }
    auto value = parse_nginx_duration(directive.args[index]);
    if (!value) report_.unsupported(directive, "cannot read the time '" + directive.args[index] + "'; left out");
    return value;
}

ConfigModel Importer::run(const std::vector<NginxDirective>& top, const std::string& source) {
    model_.source = source;
    NginxDirective main;  // the top level as a block, for the table of directives
    main.block = top;
    report_unmapped(main, Context::main, report_);
    bool seen_http = false;
    for (const auto& directive : top) {
        if (directive.name == "worker_processes" && !directive.args.empty()) {
            const std::string& value = directive.args[0];
            int workers = 0;
            bool number = !value.empty() && value.find_first_not_of("0123456789") == std::string::npos &&
                          value.size() < 6 && (workers = std::stoi(value)) >= 1 && workers <= 1024;
            if (value == "auto") model_.global.workers = "auto";
            else if (number) model_.global.workers = value;
            else report_.unsupported(directive, "lb takes auto or 1..1024 workers; left at auto");
        } else if (directive.name == "worker_shutdown_timeout") {
            if (auto ms = duration_arg(directive)) model_.global.shutdown_timeout = format_duration(Duration(*ms));
        } else if (directive.name == "events") {
            report_unmapped(directive, Context::events, report_);
        } else if (directive.name == "http") {
            if (seen_http) {
                report_.unsupported(directive, "a second http block; nginx refuses it too");
                continue;
            }
            seen_http = true;
            http(directive);
        } else if (directive.name == "stream") {
            stream(directive);
        }
    }
    return model_;
}

namespace {

bool readable(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
    return static_cast<bool>(fd) && !fs::is_directory(path);
}

}  // namespace

}  // namespace nginx

namespace {


NginxImport import_directives(const Result<std::vector<NginxDirective>>& directives, const std::string& path) {
    NginxImport out;
    if (!directives) {
        out.error = escape_controls(directives.error(), true);
        return out;
    }
    std::string conf_dir = fs::path(path).parent_path().string();
    if (conf_dir.empty()) conf_dir = ".";
    nginx::Report report;
    nginx::Importer importer(report, conf_dir);
    nginx::ConfigModel model = importer.run(*directives, path);
    out.report = report.lines();
    if (model.listeners.empty()) {
        out.error = path + ": nothing to map: no http or stream server with a listen socket lb can serve";
        return out;
    }
    out.yaml = nginx::write_yaml(model);

    // The check: lb's loader reads certificate files only to see they are
    // readable, so an unreadable one (reported by the importer) is checked
    // as the nginx file, which is.
    nginx::ConfigModel check = model;
    std::string stand_in = fs::absolute(path).lexically_normal().string();
    if (!nginx::readable(stand_in)) stand_in = "/dev/null";  // text without a file (tests, fuzzing)
    for (auto& listener : check.listeners)
        for (auto& certificate : listener.certificates) {
            if (!nginx::readable(certificate.cert)) certificate.cert = stand_in;
            if (!nginx::readable(certificate.key)) certificate.key = stand_in;
        }
    for (auto& group : check.groups)
        if (!group.ca_file.empty() && !nginx::readable(group.ca_file)) group.ca_file = stand_in;
    auto loaded = load_config_string(nginx::write_yaml(check), "import-nginx.yaml");
    if (!loaded) {
        out.yaml.clear();
        out.error = "lb import-nginx: the YAML made from " + path + " does not load: " + loaded.error() +
                    "\nlb import-nginx: this is a bug in the importer; please report it with the nginx configuration";
        return out;
    }
    out.exit_status = report.exit_status();
    return out;
}

}  // namespace

NginxImport import_nginx(const std::string& path) { return import_directives(read_nginx_config(path), path); }

NginxImport import_nginx_text(const std::string& text, const std::string& name) {
    return import_directives(read_nginx_text(text, name), name);
}

}  // namespace lb::conf

// lb: an L4/L7 load balancer. Command line in the nginx habit:
//   lb -c FILE            run in the foreground
//   lb -t -c FILE         check the config and exit 0/1
//   lb -s reload|quit|stop|reopen|upgrade -c FILE   signal the running instance
//   lb import-nginx PATH  an nginx configuration as lb YAML (stdout) and a
//                         report of what was not mapped exactly (stderr)
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "conf/config_loader.h"
#include "conf/nginx_import.h"
#include "lb/base/log.h"
#include "lb/control/server.h"
#include "lb/discovery/name_check.h"
#include "lb/runtime/runtime.h"

namespace {

int test_config(const std::string& path, std::optional<int> workers) {
    auto config = lb::conf::load_config_file(path);
    if (!config) {
        std::cerr << config.error() << "\n";
        std::cerr << "lb: configuration file " << path << " test failed\n";
        return 1;
    }
    lb::RuntimeBuilder builder;
    auto built = builder.build(*config, workers.value_or(1), /*bind_sockets=*/false);
    if (!built) {
        std::cerr << built.error() << "\n";
        std::cerr << "lb: configuration file " << path << " test failed\n";
        return 1;
    }
    // Names that do not resolve now are no reason to refuse the config:
    // lb starts without them and follows them once they resolve.
    for (const std::string& warning : lb::unresolved_names(*config)) std::cerr << "lb: warning: " << warning << "\n";
    std::cout << "lb: configuration file " << path << " syntax is ok\n";
    std::cout << "lb: configuration file " << path << " test is successful\n";
    return 0;
}

int send_signal(const std::string& path, const std::string& name) {
    int sig = 0;
    if (name == "reload") sig = SIGHUP;
    else if (name == "quit") sig = SIGQUIT;
    else if (name == "stop") sig = SIGTERM;
    else if (name == "reopen") sig = SIGUSR1;
    else if (name == "upgrade") sig = SIGUSR2;
    else {
        std::cerr << "lb: unknown signal '" << name << "': use reload, quit, stop, reopen or upgrade\n";
        return 1;
    }
    auto config = lb::conf::load_config_file(path);
    if (!config) {
        std::cerr << config.error() << "\n";
        return 1;
    }
    // The pid file, else systemd's $MAINPID (set for ExecReload= and
    // ExecStop= commands).
    const std::string& pid_file = config->global.pid_file;
    long pid = 0;
    if (pid_file.empty()) {
        const char* main_pid = getenv("MAINPID");
        if (!main_pid || (pid = strtol(main_pid, nullptr, 10)) <= 0) {
            std::cerr << "lb: " << path << ": global.pid_file is not set (and no $MAINPID), cannot find the running lb\n";
            return 1;
        }
    } else {
        std::ifstream in(pid_file);
        if (!(in >> pid) || pid <= 0) {
            std::cerr << "lb: cannot read a pid from " << pid_file << " (is lb running?)\n";
            return 1;
        }
    }
    if (kill(static_cast<pid_t>(pid), sig) != 0) {
        std::cerr << "lb: kill(" << pid << "): " << strerror(errno) << "\n";
        return 1;
    }
    return 0;
}

// Exit 0: mapped; 2: YAML written, something approximated or left out
// (see the report); 1: no YAML (README, "Coming from nginx").
int import_nginx(const std::string& path) {
    lb::conf::NginxImport result = lb::conf::import_nginx(path);
    for (const std::string& line : result.report) std::cerr << line << "\n";
    if (result.exit_status == 1) {
        std::cerr << result.error << "\n";
        return 1;
    }
    std::cout << result.yaml << std::flush;
    return result.exit_status;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"lb: L4/L7 load balancer"};
    std::string config_path = "/etc/lb/lb.yaml";
    bool test = false;
    bool version = false;
    std::string signal_name;
    std::optional<int> workers;
    std::string log_level = "info";
    app.add_option("-c,--config", config_path, "configuration file")->capture_default_str();
    app.add_flag("-t,--test", test, "check the configuration and exit");
    app.add_option("-s,--signal", signal_name, "send a signal to the running lb: reload, quit, stop, reopen, upgrade");
    app.add_option("--workers", workers, "worker threads (overrides global.workers)")->check(CLI::Range(1, 1024));
    app.add_option("--log-level", log_level, "debug, info, warn or error")
        ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
        ->capture_default_str();
    app.add_flag("-v,--version", version, "print the version and exit");
    std::string nginx_path;
    CLI::App* import = app.add_subcommand("import-nginx", "write an nginx configuration as lb YAML to stdout");
    import->add_option("path", nginx_path, "the nginx configuration file (its includes are read too)")->required();
    CLI11_PARSE(app, argc, argv);

    if (*import) return import_nginx(nginx_path);

    if (version) {
        std::cout << "lb " << LB_VERSION << "\n";
        return 0;
    }
    if (log_level == "debug") lb::set_log_level(lb::LogLevel::debug);
    else if (log_level == "warn") lb::set_log_level(lb::LogLevel::warn);
    else if (log_level == "error") lb::set_log_level(lb::LogLevel::error);

    if (test) return test_config(config_path, workers);
    if (!signal_name.empty()) return send_signal(config_path, signal_name);
    lb::Server server({config_path, workers, std::vector<std::string>(argv, argv + argc)});
    return server.run();
}

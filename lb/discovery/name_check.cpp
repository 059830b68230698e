#include "lb/discovery/name_check.h"

#include <algorithm>

#include "lb/discovery/dns_resolver.h"

namespace lb {

std::vector<std::string> unresolved_names(const conf::Config& config) {
    struct Name {
        std::string group;
        std::string name;
        bool srv;
    };
    std::vector<Name> names;
    for (const auto& group : config.target_groups) {
        if (!group.discovery.srv.empty()) names.push_back({group.name, group.discovery.srv, true});
        for (const auto& target : group.targets)
            if (target.is_name()) names.push_back({group.name, target.address, false});
    }
    std::vector<std::string> warnings;
    if (names.empty()) return warnings;

    EventLoop::Options options;
    options.ring_entries = 64;
    options.buffer_count = 16;
    options.buffer_size = 4096;
    auto loop = EventLoop::create(options);
    if (!loop) return {"names not checked: " + loop.error()};
    auto resolver = DnsResolver::create(**loop, config.global.resolver);
    if (!resolver) return {"names not checked: " + resolver.error()};

    size_t pending = names.size();
    for (const auto& name : names) {
        auto done = [&, name](DnsAnswer answer) {
            if (answer.status != DnsStatus::ok)
                warnings.push_back("target group " + name.group + ": " + name.name + (name.srv ? " (SRV)" : " (A/AAAA)") +
                                   " does not resolve now: " + answer.error);
            if (--pending == 0) (*loop)->stop();
        };
        if (name.srv) (*resolver)->resolve_srv(name.name, done);
        else (*resolver)->resolve_host(name.name, done);
    }
    // c-ares gives up on its own after its tries (the timeout doubles each
    // round, and search domains add rounds); this is only a backstop.
    const conf::Resolver& settings = config.global.resolver;
    int64_t servers = std::max<int64_t>(1, static_cast<int64_t>(settings.nameservers.size()));
    int64_t rounds_ms = settings.timeout.count() * ((int64_t{1} << settings.attempts) - 1) * servers;
    Timer deadline([&] { (*loop)->stop(); });
    (*loop)->timers().schedule(deadline, 4 * rounds_ms + 1000);
    (*loop)->run();
    (*loop)->timers().cancel(deadline);
    if (pending > 0) warnings.push_back(std::to_string(pending) + " name(s) not answered in time");
    resolver->reset();  // the loop has stopped: its polls will not complete
    std::sort(warnings.begin(), warnings.end());  // answers come in any order
    return warnings;
}

}  // namespace lb

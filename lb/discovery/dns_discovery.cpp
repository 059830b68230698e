#include "lb/discovery/dns_discovery.h"

#include <algorithm>
#include <chrono>
#include <set>

#include "conf/units.h"
#include "lb/base/clock.h"
#include "lb/base/log.h"

namespace lb {

namespace {

constexpr int64_t kFirstRetryMs = 1000;
constexpr int64_t kMaxRetryMs = 30000;

int64_t unix_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string lower(std::string text) {
    for (char& c : text)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (!text.empty() && text.back() == '.') text.pop_back();
    return text;
}

const char* kind_name(DnsDiscovery::Kind kind) { return kind == DnsDiscovery::Kind::srv ? "SRV" : "A/AAAA"; }

std::string describe(const DnsAnswer& answer, DnsDiscovery::Kind kind) {
    std::string out;
    if (kind == DnsDiscovery::Kind::srv) {
        for (const auto& srv : answer.srv)
            out += (out.empty() ? "" : ", ") + srv.host + ":" + std::to_string(srv.port) + " (priority " +
                   std::to_string(srv.priority) + ", weight " + std::to_string(srv.weight) + ")";
    } else {
        for (const auto& address : answer.addresses) out += (out.empty() ? "" : ", ") + address.ip_string();
    }
    return out.empty() ? "nothing" : out;
}

}  // namespace

struct DnsDiscovery::Record {
    Record(DnsDiscovery* owner, Kind k, std::string n, std::string q)
        : kind(k), name(std::move(n)), query(std::move(q)), timer([owner, this] { owner->lookup(*this); }) {}

    Kind kind;
    std::string name;               // lower case, no trailing dot: the key
    std::string query;              // as asked
    bool resolved = false;          // `answer` is a good one (possibly emptied after hold)
    DnsAnswer answer;
    int64_t resolved_unix_ms = 0;
    int64_t next_lookup_unix_ms = 0;
    std::string error;
    int64_t no_name_since_ms = 0;   // steady: NXDOMAIN while holding a non-empty answer
    int64_t retry_ms = 0;           // back-off after failures
    int64_t refresh_ms = 0;         // fixed interval (discovery.refresh); 0 = the TTL
    bool in_flight = false;
    uint64_t lookup_id = 0;         // of the lookup in flight
    bool wanted = false;
    Timer timer;
};

DnsDiscovery::DnsDiscovery(EventLoop& loop, std::function<void()> changed)
    : loop_(loop), changed_(std::move(changed)) {}

DnsDiscovery::~DnsDiscovery() {
    *alive_ = false;
    records_.clear();    // timers first
    resolver_.reset();
}

Status DnsDiscovery::prepare(const conf::Config& config) {
    const conf::Resolver& settings = config.global.resolver;
    bool uses_names = false;
    for (const auto& group : config.target_groups) uses_names = uses_names || group.discovered();
    if (uses_names && !resolver_) {
        auto resolver = DnsResolver::create(loop_, settings);
        if (!resolver) return Error{resolver.error()};
        resolver_ = std::move(*resolver);
        settings_ = settings;
    } else if (resolver_ && (settings.nameservers != settings_.nameservers || settings.timeout != settings_.timeout ||
                             settings.attempts != settings_.attempts)) {
        LB_LOG_WARN("global.resolver nameservers, timeout or attempts changed: takes effect on restart");
    }
    return Ok{};
}

void DnsDiscovery::follow(const conf::Config& config) {
    if (resolver_) {
        // hold and the TTL bounds apply at once.
        settings_.hold = config.global.resolver.hold;
        settings_.min_ttl = config.global.resolver.min_ttl;
        settings_.max_ttl = config.global.resolver.max_ttl;
    }
    groups_.clear();
    for (const auto& group : config.target_groups) {
        GroupNames names;
        names.refresh_ms = group.discovery.refresh.count();
        if (!group.discovery.srv.empty()) names.keys.emplace_back(Kind::srv, group.discovery.srv);
        for (const auto& target : group.targets)
            if (target.is_name()) names.keys.emplace_back(Kind::host, target.address);
        if (!names.keys.empty()) groups_[group.name] = std::move(names);
    }
    sweep();
}

// Keeps the records the configured names and the current SRV answers use,
// forgets the others (a lookup in flight for one is ignored when it ends),
// and looks up those that are new.
void DnsDiscovery::sweep() {
    for (auto& [key, record] : records_) {
        record->wanted = false;
        record->refresh_ms = 0;
    }
    std::vector<Record*> fresh;
    // `query`: the name as it is asked (as written; an SRV target absolute).
    auto use = [&](Kind kind, const std::string& query, int64_t refresh_ms) -> Record& {
        Key key{kind, lower(query)};
        auto it = records_.find(key);
        if (it == records_.end()) {
            it = records_.emplace(key, std::make_unique<Record>(this, kind, key.second, query)).first;
            fresh.push_back(it->second.get());
        }
        Record& record = *it->second;
        record.wanted = true;
        if (refresh_ms > 0 && (record.refresh_ms == 0 || refresh_ms < record.refresh_ms)) record.refresh_ms = refresh_ms;
        return record;
    };
    for (const auto& [group, names] : groups_) {
        for (const auto& [kind, name] : names.keys) {
            Record& record = use(kind, name, kind == Kind::srv ? names.refresh_ms : 0);
            if (kind != Kind::srv) continue;
            // SRV targets are fully qualified (RFC 2782): no search domains.
            for (const auto& target : record.answer.srv) use(Kind::host, target.host + ".", names.refresh_ms);
        }
    }
    std::erase_if(records_, [](const auto& entry) { return !entry.second->wanted; });
    for (Record* record : fresh) lookup(*record);
}

const DnsDiscovery::Record* DnsDiscovery::find(Kind kind, const std::string& name) const {
    auto it = records_.find({kind, lower(name)});
    return it == records_.end() ? nullptr : it->second.get();
}

void DnsDiscovery::lookup(Record& record) {
    if (record.in_flight || !resolver_) return;
    record.in_flight = true;
    record.lookup_id = ++lookups_started_;
    Key key{record.kind, record.name};
    auto done = [this, alive = alive_, key, id = record.lookup_id](DnsAnswer answer) {
        if (!*alive) return;
        auto it = records_.find(key);
        // Forgotten meanwhile (and perhaps made again, with a lookup of its own).
        if (it != records_.end() && it->second->lookup_id == id) answered(*it->second, std::move(answer));
    };
    if (record.kind == Kind::srv) resolver_->resolve_srv(record.query, std::move(done));
    else resolver_->resolve_host(record.query, std::move(done));
}

void DnsDiscovery::answered(Record& record, DnsAnswer answer) {
    record.in_flight = false;
    const int64_t now = steady_now_ms();
    bool changed = false;
    if (answer.status == DnsStatus::ok) {
        counters_.answered++;
        changed = !record.resolved || answer.addresses != record.answer.addresses || answer.srv != record.answer.srv;
        if (changed)
            LB_LOG_INFO("dns: %s %s: %s%s", kind_name(record.kind), record.name.c_str(),
                        describe(answer, record.kind).c_str(),
                        record.resolved ? (" (was " + describe(record.answer, record.kind) + ")").c_str() : "");
        else if (!record.error.empty())
            LB_LOG_INFO("dns: %s %s answers again", kind_name(record.kind), record.name.c_str());
        record.answer = std::move(answer);
        record.resolved = true;
        record.resolved_unix_ms = unix_ms();
        record.error.clear();
        record.no_name_since_ms = 0;
        record.retry_ms = 0;
        int64_t ttl_ms = static_cast<int64_t>(record.answer.ttl) * 1000;
        int64_t next = record.refresh_ms > 0
                           ? record.refresh_ms
                           : std::clamp(ttl_ms, settings_.min_ttl.count(), settings_.max_ttl.count());
        schedule(record, next);
    } else {
        counters_.failures++;
        std::string error = std::string(answer.status == DnsStatus::no_name ? "no such name: " : "lookup failed: ") +
                            answer.error;
        if (error != record.error)
            LB_LOG_WARN("dns: %s %s: %s%s", kind_name(record.kind), record.name.c_str(), error.c_str(),
                        record.resolved && (!record.answer.addresses.empty() || !record.answer.srv.empty())
                            ? "; keeping the last answer"
                            : "");
        record.error = std::move(error);
        bool holding = record.resolved && (!record.answer.addresses.empty() || !record.answer.srv.empty());
        if (answer.status == DnsStatus::no_name && holding) {
            if (record.no_name_since_ms == 0) record.no_name_since_ms = now;
            if (now - record.no_name_since_ms >= settings_.hold.count()) {
                LB_LOG_WARN("dns: %s %s: gone for %s (resolver.hold): its targets are removed", kind_name(record.kind),
                            record.name.c_str(), conf::format_duration(settings_.hold).c_str());
                record.answer = DnsAnswer();
                record.answer.status = DnsStatus::ok;
                record.no_name_since_ms = 0;
                holding = false;
                changed = true;
            }
        }
        record.retry_ms = record.retry_ms ? std::min(record.retry_ms * 2, kMaxRetryMs) : kFirstRetryMs;
        int64_t next = record.retry_ms;
        // Still holding an answer the name lost: look again when the hold runs out.
        if (holding && record.no_name_since_ms)
            next = std::min(next, std::max<int64_t>(1, record.no_name_since_ms + settings_.hold.count() - now));
        schedule(record, next);
    }
    if (!changed) return;
    counters_.changes++;
    // The hosts an SRV answer names now: new ones are looked up, those it
    // no longer names forgotten (unless something else uses them).
    if (record.kind == Kind::srv) sweep();
    notify();
}

void DnsDiscovery::schedule(Record& record, int64_t delay_ms) {
    record.next_lookup_unix_ms = unix_ms() + delay_ms;
    loop_.timers().schedule(record.timer, std::max<int64_t>(delay_ms, 1));
}

void DnsDiscovery::notify() {
    if (notify_pending_) return;
    notify_pending_ = true;
    loop_.defer([this, alive = alive_] {
        if (!*alive) return;
        notify_pending_ = false;
        changed_();
    });
}

conf::Config DnsDiscovery::apply(conf::Config config) const {
    for (auto& group : config.target_groups) {
        if (!group.discovered()) continue;
        std::vector<conf::Target> targets;
        auto add = [&](conf::Target target) {
            for (const auto& existing : targets)
                if (existing.addr == target.addr) return;
            targets.push_back(std::move(target));
        };
        auto expand = [&](const conf::Target& model, const std::string& host, const std::string& found_by) {
            const Record* record = find(Kind::host, host);
            if (!record) return;
            for (const auto& address : record->answer.addresses) {
                // 0.0.0.0, broadcast or multicast: an answer lb cannot connect to.
                if (address.unusable_as_target()) continue;
                conf::Target target = model;
                target.addr = address;
                target.addr.set_port(model.port);
                target.address = address.ip_string();
                target.discovered_by = found_by;
                add(std::move(target));
            }
        };
        if (!group.discovery.srv.empty()) {
            if (const Record* srv = find(Kind::srv, group.discovery.srv)) {
                for (const auto& record : srv->answer.srv) {
                    conf::Target model;
                    model.port = record.port;
                    // SRV weights are 0..65535 and 0 means "rarely" (RFC 2782):
                    // lb's weight 0 would mean "never", so it becomes 1.
                    model.weight = std::clamp<int>(record.weight, 1, 1000);
                    model.tier = record.priority;
                    model.pos = group.pos;
                    expand(model, record.host, group.discovery.srv);
                }
            }
        }
        for (const auto& target : group.targets) {
            if (target.is_name()) expand(target, target.address, target.address);
            else add(target);
        }
        group.targets = std::move(targets);
    }
    return config;
}

DnsDiscovery::NameStatus DnsDiscovery::status_of(const Record& record) const {
    NameStatus status;
    status.kind = record.kind;
    status.name = record.name;
    status.resolved = record.resolved;
    for (const auto& address : record.answer.addresses) status.answer.push_back(address.ip_string());
    for (const auto& srv : record.answer.srv)
        status.answer.push_back(std::to_string(srv.priority) + " " + std::to_string(srv.weight) + " " +
                                std::to_string(srv.port) + " " + srv.host);
    status.resolved_unix_ms = record.resolved_unix_ms;
    status.next_lookup_unix_ms = record.next_lookup_unix_ms;
    status.last_error = record.error;
    return status;
}

std::vector<DnsDiscovery::NameStatus> DnsDiscovery::names_of(const std::string& group) const {
    std::vector<NameStatus> out;
    auto names = groups_.find(group);
    if (names == groups_.end()) return out;
    std::set<Key> seen;
    auto add = [&](Kind kind, const std::string& name) {
        if (!seen.insert({kind, lower(name)}).second) return;
        if (const Record* record = find(kind, name)) out.push_back(status_of(*record));
    };
    for (const auto& [kind, name] : names->second.keys) {
        add(kind, name);
        if (kind != Kind::srv) continue;
        if (const Record* srv = find(Kind::srv, name))
            for (const auto& target : srv->answer.srv) add(Kind::host, target.host);
    }
    return out;
}

}  // namespace lb

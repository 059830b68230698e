// DnsDiscovery: targets found by DNS (README "Targets by DNS name"). It
// keeps one record per name the config uses, a target's A/AAAA name or a
// group's SRV name (and the A/AAAA names its SRV answers point at), looks
// each up again when its TTL (bounded by resolver.min_ttl and max_ttl) or
// the group's refresh runs out, and tells the server when an answer
// changed. apply() turns a config's names into the addresses they resolve
// to now; the server builds its snapshot from that, so a new address enters
// as any new target does (health `initial`, slow start) and a vanished one
// drains with its group's deregistration_delay.
//
// When DNS fails the last good answer stays: a failing server (timeout,
// SERVFAIL, refused) never empties a name, and NXDOMAIN or an empty answer
// does only after resolver.hold. Failed lookups are retried with back-off
// (1 s doubling to 30 s).
//
// Threading: the main thread (its loop runs the resolver); workers only see
// the snapshots built from apply().
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "conf/config.h"
#include "lb/base/result.h"
#include "lb/discovery/dns_resolver.h"
#include "lb/io/event_loop.h"

namespace lb {

class DnsDiscovery {
public:
    enum class Kind { host, srv };

    // What the admin API and /metrics show of one name.
    struct NameStatus {
        Kind kind = Kind::host;
        std::string name;
        bool resolved = false;               // has an answer (it may be empty after hold)
        std::vector<std::string> answer;     // "10.0.0.1" or "5 10 8080 app-1.example." (priority weight port host)
        int64_t resolved_unix_ms = 0;        // last successful lookup
        int64_t next_lookup_unix_ms = 0;
        std::string last_error;              // of the last lookup; empty if it succeeded
    };
    struct Counters {
        uint64_t answered = 0;               // lookups that got records
        uint64_t failures = 0;               // lookups that failed or found no such name
        uint64_t changes = 0;                // answers that differed from the one before
    };

    // `changed` runs (deferred, once per batch) when any answer changed.
    DnsDiscovery(EventLoop& loop, std::function<void()> changed);
    ~DnsDiscovery();
    DnsDiscovery(const DnsDiscovery&) = delete;
    DnsDiscovery& operator=(const DnsDiscovery&) = delete;

    // Before a config is applied: makes the resolver on first use (what can
    // fail). Later changes of its nameservers, timeout or attempts take
    // effect on restart.
    Status prepare(const conf::Config& config);
    // Once it is applied: follows the names `config` uses from now on,
    // keeping what is known of each, and forgets the others. A rejected
    // config never gets here, so it changes nothing.
    void follow(const conf::Config& config);
    // `config` with each name target replaced by one target per address it
    // resolves to (an unresolved name: none), and each discovery group given
    // its SRV targets. Within a group an address:port is listed once.
    conf::Config apply(conf::Config config) const;

    // The names behind the group called `group` in the last follow():
    // its SRV name first with the hosts it points at, then its name targets.
    std::vector<NameStatus> names_of(const std::string& group) const;
    const Counters& counters() const { return counters_; }

private:
    struct Record;
    using Key = std::pair<Kind, std::string>;

    // The names one group uses, as configured.
    struct GroupNames {
        std::vector<Key> keys;       // its SRV name first, then its name targets (as written)
        int64_t refresh_ms = 0;      // discovery.refresh; 0 = TTLs
    };

    void sweep();
    void lookup(Record& record);
    void answered(Record& record, DnsAnswer answer);
    void schedule(Record& record, int64_t delay_ms);
    void notify();
    const Record* find(Kind kind, const std::string& name) const;
    NameStatus status_of(const Record& record) const;

    EventLoop& loop_;
    std::function<void()> changed_;
    conf::Resolver settings_;
    std::unique_ptr<DnsResolver> resolver_;
    std::map<Key, std::unique_ptr<Record>> records_;
    std::map<std::string, GroupNames> groups_;
    uint64_t lookups_started_ = 0;
    Counters counters_;
    bool notify_pending_ = false;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace lb

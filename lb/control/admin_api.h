// AdminApi: the admin HTTP API on global.admin.listen, JSON in and out:
//
//   GET    /healthz                                      lb itself is up (no token needed)
//   GET    /api/v1/target-groups                         groups with target counts by state
//   GET    /api/v1/target-groups/{name}                  one group, every target in detail
//   POST   /api/v1/target-groups/{name}/targets          register {address, port, weight?, zone?}
//   DELETE /api/v1/target-groups/{name}/targets/{address}:{port}   deregister (drains)
//   POST   /api/v1/reload                                re-read the config file, like SIGHUP
//   GET    /api/v1/stats                                 counters and gauges as JSON (lb/control/metrics.h)
//   GET    /metrics                                      the same in the Prometheus text format
//   GET    /api/v1/dashboard                             everything the dashboard shows, with rates and series
//   GET    /, /dashboard.js, /dashboard.css              the dashboard's page (no token: it holds no data)
//
// With a token_file, every /api/ and /metrics request needs `Authorization: Bearer
// <token>` (401 otherwise, before anything is parsed or changed). Errors
// are {"error": "..."} with a 4xx/5xx status.
//
// Threading: main thread only, served by the control loop in Server, so it
// never competes with traffic. It reads the current snapshot and
// TargetState atomics; every change goes through AdminControl (the Server),
// which builds and publishes a new snapshot exactly as a reload does.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_set>

#include "conf/config.h"
#include "lb/base/result.h"
#include "lb/base/unique_fd.h"
#include "lb/control/admin_request.h"
#include "lb/control/dashboard_history.h"
#include "lb/discovery/dns_discovery.h"
#include "lb/control/metrics.h"
#include "lb/io/event_loop.h"
#include "lb/io/inherited_sockets.h"
#include "lb/runtime/runtime.h"
#include "lb/targets/target_registrations.h"

namespace lb {

struct HttpHead;
class AdminConnection;
struct DashboardAsset;

// What the admin API may ask of the server. status is the HTTP status to
// answer (2xx on success); error explains any other.
struct AdminOutcome {
    int status = 200;
    std::string error;
};

class AdminControl {
public:
    virtual std::shared_ptr<const Runtime> current_runtime() const = 0;
    virtual TargetSource target_source(const std::string& group, const SocketAddress& address) const = 0;
    // 201 new, 200 already registered (weight/zone updated for API targets).
    virtual AdminOutcome register_target(const std::string& group, TargetRegistration registration) = 0;
    // 202: draining (or, unhealthy / delay 0, removed at once).
    virtual AdminOutcome deregister_target(const std::string& group, const SocketAddress& address) = 0;
    // Generation of the new snapshot, or why the config was rejected.
    virtual Result<uint64_t> reload_config() = 0;
    virtual bool stopping() const = 0;
    virtual ServerStats stats() const = 0;
    // What DNS said about the names behind discovered groups.
    virtual const DnsDiscovery* discovery() const = 0;
    // Rates and time series sampled once a second (GET /api/v1/dashboard).
    virtual const DashboardHistory& dashboard_history() const = 0;

protected:
    ~AdminControl() = default;
};

class AdminApi {
public:
    // The settings of one config generation, prepared before it is applied
    // so a reload with a bad token file or an unbindable address changes
    // nothing. Owns its listen socket until committed.
    class Prepared {
    public:
    private:
        friend class AdminApi;
        bool enabled = false;
        SocketAddress address;
        std::string token;
        UniqueFd fd;  // a new socket; none keeps the current one
    };

    AdminApi(EventLoop& loop, AdminControl& control);
    ~AdminApi();
    AdminApi(const AdminApi&) = delete;
    AdminApi& operator=(const AdminApi&) = delete;

    // `inherited`: sockets handed over at start; one bound to the admin
    // address is taken instead of opening one.
    Result<Prepared> prepare(const conf::Admin& config, InheritedSockets* inherited = nullptr) const;
    void commit(Prepared prepared);
    // Stop accepting; connections close once they answered what they were
    // asked (lb is stopping).
    void shutdown();
    // The listening socket (-1: none), for a binary upgrade to hand over.
    int listening_fd() const;
    // A binary upgrade handed the socket over: the new lb answers from now
    // on; connections open here finish.
    void stop_accepting() { close_listener(); }
    // Nothing open any more (after shutdown): the control loop may exit.
    bool idle() const { return listener_ == nullptr && listeners_.empty() && connections_.empty(); }

private:
    friend class AdminConnection;
    struct Listener;

    void arm_accept();
    void on_accept(UniqueFd fd);
    bool evict_one();
    void close_listener();
    void connection_closed(AdminConnection* connection);

    // Request handling; body is the complete request body.
    struct Reply {
        Reply(int status_code, nlohmann::json json_body, std::string headers = {})
            : status(status_code), body(std::move(json_body)), extra_headers(std::move(headers)) {}
        // A non-JSON answer (the Prometheus text format).
        Reply(std::string text_body, const char* type) : status(200), text(std::move(text_body)), content_type(type) {}
        int status;
        nlohmann::json body;
        std::string extra_headers;  // full "Name: value\r\n" lines
        std::string text;           // sent instead of body when content_type is set
        const char* content_type = nullptr;
    };
    Reply handle(const HttpHead& request, const std::string& body);
    bool authorized(const HttpHead& request) const;
    Reply list_groups() const;
    Reply show_group(const std::string& name) const;
    Reply register_target(const std::string& group, const std::string& body);
    Reply deregister_target(const std::string& group, const std::string& target);
    Reply reload();
    // lb/control/admin_dashboard.cpp
    Reply dashboard() const;
    static Reply dashboard_asset(const DashboardAsset& asset);
    nlohmann::json group_json(const TargetGroupRuntime& group, bool with_targets) const;
    nlohmann::json target_json(const TargetGroupRuntime& group, const TargetEntry& entry) const;

    EventLoop& loop_;
    AdminControl& control_;
    bool enabled_ = false;
    SocketAddress address_;
    std::string token_;
    // Bumped whenever the address, the token or enabled changes: connections
    // accepted before serve nothing more (they were authorised under the
    // old settings).
    uint64_t settings_generation_ = 0;
    Listener* listener_ = nullptr;            // the accepting one
    std::unordered_set<Listener*> listeners_;  // every live one; a replaced one frees itself once its accept ended
    bool shut_down_ = false;
    std::unordered_set<AdminConnection*> connections_;
    uint64_t accepted_ = 0;
};

}  // namespace lb

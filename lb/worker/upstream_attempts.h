// UpstreamAttempts: the connect-and-retry policy every proxied request or
// connection follows, HTTP exchanges and TCP / TLS-passthrough tunnels
// alike. Each attempt picks a target of the group (pick_target: sticky
// target first, never one already tried) and opens a connection to it: an
// idle pooled one when the caller allows, else a new connect. A failed
// attempt is counted against its target (a refused or timed-out connect is
// a passive health signal) and excludes it from the next pick; at most
// kMaxConnectAttempts attempts are made in all.
//
// A pooled connection that turns out to be dead (the target closed it while
// it sat idle, and nothing was answered) is no verdict on the target: the
// next attempt may pick it again, on a new connection.
//
// Threading: the session's loop thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "lb/io/stream.h"
#include "lb/worker/target_picker.h"
#include "lb/worker/upstream_connector.h"

namespace lb {

class UpstreamAttempts {
public:
    enum class Reuse { pooled, new_only };

    // `snapshot` and `group` outlive this (the session holds the snapshot).
    UpstreamAttempts(UpstreamConnector& connector, WorkerSnapshot& snapshot, const TargetGroupRuntime& group,
                     uint64_t client_hash, const TargetEntry* sticky = nullptr);

    // The next attempt's connection, or null when no target is left or the
    // attempts are used up. A new connect reports to `handler`'s
    // on_stream_connected; a pooled connection is connected already
    // (reused() says which). `reuse` pooled: an idle connection is taken
    // unless the last attempt found one dead.
    std::unique_ptr<Stream> next(StreamHandler* handler, Reuse reuse);

    // The current attempt failed before its target answered anything.
    // `connect_error` is on_stream_connected's -errno, counted against the
    // target's health; 0 for a connection that closed or reset unanswered.
    void failed(int connect_error);

    const TargetEntry* entry() const { return entry_; }
    const std::shared_ptr<TargetState>& target() const { return target_; }
    bool reused() const { return reused_; }
    int attempts() const { return attempts_; }
    bool exhausted() const { return attempts_ >= kMaxConnectAttempts; }

private:
    UpstreamConnector* connector_;
    WorkerSnapshot* snapshot_;
    const TargetGroupRuntime* group_;
    uint64_t client_hash_;
    const TargetEntry* sticky_;
    const TargetEntry* entry_ = nullptr;
    std::shared_ptr<TargetState> target_;
    std::vector<const TargetState*> tried_;
    int attempts_ = 0;
    bool reused_ = false;
    bool avoid_pool_ = false;  // the last pooled connection was dead
};

}  // namespace lb

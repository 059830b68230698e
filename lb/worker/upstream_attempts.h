// UpstreamAttempts: the connect-and-retry policy every proxied request or
// connection follows, HTTP exchanges and TCP / TLS-passthrough tunnels
// alike. Each attempt picks a target of the group (pick_target: sticky
// target first, never one already tried) and opens a connection to it: an
// idle pooled one when the caller allows, else a new connect. A failed
// attempt is counted against its target (passive health, and a refused or
// timed-out connect as a signal for the active check) and excludes it from
// the next pick; at most the group's retry_tries attempts are made in all.
// Whether a failure is retried at all is the caller's decision (the group's
// retry_on, the request's method).
//
// A pooled connection that turns out to be dead (the target closed it while
// it sat idle, and nothing was answered) is no verdict on the target and no
// try: the next attempt may pick it again, on a new connection.
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

    // The current attempt failed before its answer reached the client.
    // `connect_error` is on_stream_connected's -errno, counted against the
    // target's health; 0 for a connection that closed, reset or timed out
    // unanswered, or an answer dropped for a retry. `dead_idle`: the
    // attempt's pooled connection had been closed by the target while idle
    // (it closed before any byte of an answer), which is no try; a pooled
    // connection that answered or stayed silent failed like any other.
    void failed(int connect_error, bool dead_idle = false);
    // The target answered with a status its group counts as a failure
    // (retry_on) and the answer goes to the client: passive health only.
    void note_failed_answer();
    // Is another attempt possible: tries left and a target not yet tried?
    bool can_retry();

    const TargetEntry* entry() const { return entry_; }
    const std::shared_ptr<TargetState>& target() const { return target_; }
    bool reused() const { return reused_; }
    int attempts() const { return attempts_; }
    bool exhausted() const { return attempts_ >= max_attempts_; }
    // The group's retry_on includes connect_failure.
    bool retries_connects() const { return group_->config.retry.connect_failure; }

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
    int max_attempts_;
    bool reused_ = false;
    bool avoid_pool_ = false;  // the last pooled connection was dead
};

}  // namespace lb

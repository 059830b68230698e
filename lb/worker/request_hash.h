// The hash a request or connection is balanced by (Balancer::pick's
// client_hash): the client address for source_ip_hash and source_ip
// stickiness; for the `hash` algorithm, the group's hash_key read from the
// request (README "Algorithms"), or kNoClientHash when the request lacks it
// (the balancer then goes round robin).
#pragma once

#include <cstdint>
#include <string_view>

#include "conf/config.h"
#include "lb/http/http_head.h"
#include "lb/targets/balancer.h"

namespace lb {

// `head` and `query` may be null / empty (a TCP or UDP connection: only
// client_ip keys are possible there, the loader sees to that).
uint64_t request_hash(const conf::TargetGroup& group, const SocketAddress& client, const HttpHead* head,
                      std::string_view query);

// The client address with only the key's prefix lengths kept, hashed.
uint64_t hash_client_prefix(const conf::HashKey& key, const SocketAddress& client);

}  // namespace lb

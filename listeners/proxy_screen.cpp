#include "listeners/proxy_screen.h"

#include "lb/base/log.h"
#include "listeners/proxy_protocol.h"

namespace lb {

FirstBytesCheck::Verdict ProxyHeaderRefusal::check(std::string_view received) {
    switch (proxy_protocol::match_signature(received)) {
        case proxy_protocol::Signature::maybe:
            return Verdict::need_more;
        case proxy_protocol::Signature::yes:
            refused_->fetch_add(1, std::memory_order_relaxed);
            LB_LOG_DEBUG("refusing %s: PROXY header from a peer outside trusted_proxies", peer_.c_str());
            return Verdict::refuse;
        case proxy_protocol::Signature::no:
            return Verdict::pass;
    }
    return Verdict::pass;
}

}  // namespace lb

#include "listeners/udp_flow_table.h"

#include <cstring>

#include "lb/base/hash.h"

namespace lb {

size_t UdpFlowTable::KeyHash::operator()(const Key& key) const {
    uint64_t high = 0;
    uint64_t low = 0;
    std::memcpy(&high, key.ip.data(), 8);
    std::memcpy(&low, key.ip.data() + 8, 8);
    return static_cast<size_t>(mix64(high ^ mix64(low ^ (uint64_t(key.port) << 48))));
}

UdpFlowEntry* UdpFlowTable::find(const SocketAddress& client) const {
    auto it = by_client_.find(key_of(client));
    return it == by_client_.end() ? nullptr : it->second;
}

void UdpFlowTable::insert(UdpFlowEntry* entry) {
    by_client_.emplace(key_of(entry->client), entry);
    link_newest(entry);
}

void UdpFlowTable::erase(UdpFlowEntry* entry) {
    if (!entry->linked_) return;
    by_client_.erase(key_of(entry->client));
    unlink(entry);
}

void UdpFlowTable::touch(UdpFlowEntry* entry) {
    if (!entry->linked_ || entry == newest_) return;
    unlink(entry);
    link_newest(entry);
}

std::vector<UdpFlowEntry*> UdpFlowTable::entries() const {
    std::vector<UdpFlowEntry*> out;
    out.reserve(by_client_.size());
    for (UdpFlowEntry* entry = oldest_; entry; entry = entry->newer_) out.push_back(entry);
    return out;
}

void UdpFlowTable::unlink(UdpFlowEntry* entry) {
    (entry->older_ ? entry->older_->newer_ : oldest_) = entry->newer_;
    (entry->newer_ ? entry->newer_->older_ : newest_) = entry->older_;
    entry->older_ = entry->newer_ = nullptr;
    entry->linked_ = false;
}

void UdpFlowTable::link_newest(UdpFlowEntry* entry) {
    entry->older_ = newest_;
    entry->newer_ = nullptr;
    (newest_ ? newest_->newer_ : oldest_) = entry;
    newest_ = entry;
    entry->linked_ = true;
}

}  // namespace lb

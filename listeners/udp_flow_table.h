// UdpFlowTable: a udp listener's flows on one worker, found by client
// address:port and kept in least-recently-used order, so the table stays
// within udp.max_flows by dropping the flow that has been idle the longest.
//
// Threading: one per UdpListener, loop thread only. The table does not own
// its entries.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "lb/base/net_address.h"

namespace lb {

// What the table needs of a flow: the client it belongs to and its place in
// the use order.
struct UdpFlowEntry {
    explicit UdpFlowEntry(const SocketAddress& client_address) : client(client_address) {}
    const SocketAddress client;

private:
    friend class UdpFlowTable;
    UdpFlowEntry* older_ = nullptr;
    UdpFlowEntry* newer_ = nullptr;
    bool linked_ = false;
};

class UdpFlowTable {
public:
    UdpFlowEntry* find(const SocketAddress& client) const;
    // Adds `entry` as the most recently used; its client must not be in the table.
    void insert(UdpFlowEntry* entry);
    void erase(UdpFlowEntry* entry);
    // `entry` carried a datagram just now.
    void touch(UdpFlowEntry* entry);
    UdpFlowEntry* oldest() const { return oldest_; }
    size_t size() const { return by_client_.size(); }
    // Oldest first.
    std::vector<UdpFlowEntry*> entries() const;

private:
    struct Key {
        std::array<uint8_t, 16> ip;  // IPv4 mapped, so both families share one key space
        uint16_t port;
        bool operator==(const Key& other) const { return ip == other.ip && port == other.port; }
    };
    struct KeyHash {
        size_t operator()(const Key& key) const;
    };
    static Key key_of(const SocketAddress& client) { return {client.ip_bytes(), client.port()}; }
    void unlink(UdpFlowEntry* entry);
    void link_newest(UdpFlowEntry* entry);

    std::unordered_map<Key, UdpFlowEntry*, KeyHash> by_client_;
    UdpFlowEntry* oldest_ = nullptr;
    UdpFlowEntry* newest_ = nullptr;
};

}  // namespace lb

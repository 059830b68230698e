// ByteQueue: bytes waiting to be sent on one socket, in fixed-size blocks so
// appends never move queued data and sends gather blocks with one sendmsg.
// An empty queue holds no memory: idle connections (keep-alive, WebSocket)
// are most connections, and each would otherwise keep a block.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <vector>
#include <string_view>

namespace lb {

class ByteQueue {
public:
    static constexpr size_t kBlockSize = 16384;

    ByteQueue() = default;
    ByteQueue(const ByteQueue&) = delete;
    ByteQueue& operator=(const ByteQueue&) = delete;
    ByteQueue(ByteQueue&& other) noexcept;
    ByteQueue& operator=(ByteQueue&& other) noexcept;
    ~ByteQueue();

    void append(std::string_view data);
    size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    // Points up to `max` iovecs at the front of the queue; returns how many.
    int gather(iovec* iov, int max) const;
    void consume(size_t bytes);
    void clear();
    // Blocks held now (0 when empty).
    size_t block_count() const { return blocks_.size(); }

private:
    struct Block {
        char* data;
        size_t begin;
        size_t end;
    };
    std::vector<Block> blocks_;  // a handful at most: front erases are cheap
    size_t size_ = 0;
};

}  // namespace lb

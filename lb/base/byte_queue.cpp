#include "lb/base/byte_queue.h"

#include <cstddef>
#include <cstring>
#include <utility>
#include <vector>

namespace lb {

namespace {

// A small per-thread cache of blocks: streaming a large body would otherwise
// malloc and free a block per 16 KiB.
struct BlockCache {
    std::vector<char*> free;
    ~BlockCache() {
        for (char* block : free) delete[] block;
    }
};
thread_local BlockCache t_cache;
constexpr size_t kCachedBlocks = 256;

char* take_block() {
    if (!t_cache.free.empty()) {
        char* block = t_cache.free.back();
        t_cache.free.pop_back();
        return block;
    }
    return new char[ByteQueue::kBlockSize];
}

void give_block(char* block) {
    if (t_cache.free.size() < kCachedBlocks) t_cache.free.push_back(block);
    else delete[] block;
}

}  // namespace

ByteQueue::ByteQueue(ByteQueue&& other) noexcept : blocks_(std::move(other.blocks_)), size_(other.size_) {
    other.blocks_.clear();
    other.size_ = 0;
}

ByteQueue& ByteQueue::operator=(ByteQueue&& other) noexcept {
    if (this != &other) {
        clear();
        blocks_ = std::move(other.blocks_);
        size_ = other.size_;
        other.blocks_.clear();
        other.size_ = 0;
    }
    return *this;
}

ByteQueue::~ByteQueue() { clear(); }

void ByteQueue::append(std::string_view data) {
    size_ += data.size();
    while (!data.empty()) {
        if (blocks_.empty() || blocks_.back().end == kBlockSize) blocks_.push_back({take_block(), 0, 0});
        Block& block = blocks_.back();
        size_t n = std::min(data.size(), kBlockSize - block.end);
        std::memcpy(block.data + block.end, data.data(), n);
        block.end += n;
        data.remove_prefix(n);
    }
}

int ByteQueue::gather(iovec* iov, int max) const {
    int count = 0;
    for (const Block& block : blocks_) {
        if (count == max) break;
        iov[count].iov_base = block.data + block.begin;
        iov[count].iov_len = block.end - block.begin;
        ++count;
    }
    return count;
}

void ByteQueue::consume(size_t bytes) {
    size_ -= bytes;
    if (size_ == 0) {  // all sent: the blocks go back to the thread's cache
        clear();
        return;
    }
    size_t done = 0;
    while (bytes > 0 && done < blocks_.size()) {
        Block& block = blocks_[done];
        size_t n = std::min(bytes, block.end - block.begin);
        block.begin += n;
        bytes -= n;
        if (block.begin == block.end) give_block(blocks_[done++].data);
    }
    blocks_.erase(blocks_.begin(), blocks_.begin() + static_cast<std::ptrdiff_t>(done));
}

void ByteQueue::clear() {
    for (Block& block : blocks_) give_block(block.data);
    blocks_.clear();
    size_ = 0;
}

}  // namespace lb

// ProvidedBuffers: one io_uring provided-buffer ring (a buffer group): the
// kernel takes a free buffer for each completion of a receive submitted with
// IOSQE_BUFFER_SELECT on this group, names it in the CQE flags, and the
// owner hands it back with release() once the bytes are used. Multishot
// receives need this (they have no buffer of their own).
//
// Threading: owned by one EventLoop, used only on its thread. Freed after
// the loop's ring is torn down (the kernel may write into the buffers until
// then).
#pragma once

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "lb/base/result.h"

namespace lb {

class ProvidedBuffers {
public:
    // `count` must be a power of two. The memory is reserved, not touched:
    // pages are backed only where received bytes land.
    static Result<std::unique_ptr<ProvidedBuffers>> create(io_uring* ring, uint16_t group, unsigned count,
                                                           size_t size);
    ~ProvidedBuffers();
    ProvidedBuffers(const ProvidedBuffers&) = delete;
    ProvidedBuffers& operator=(const ProvidedBuffers&) = delete;

    uint16_t group() const { return group_; }
    size_t size() const { return size_; }
    char* buffer(uint16_t id) const { return memory_ + size_t(id) * size_; }
    // The buffer a completion used: IORING_CQE_F_BUFFER set in `flags`.
    static uint16_t id_of(uint32_t flags) { return static_cast<uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT); }
    void release(uint16_t id);

private:
    ProvidedBuffers(uint16_t group, unsigned count, size_t size) : group_(group), count_(count), size_(size) {}

    uint16_t group_;
    unsigned count_;
    size_t size_;
    io_uring_buf_ring* ring_ = nullptr;
    size_t ring_bytes_ = 0;
    char* memory_ = nullptr;
    size_t memory_bytes_ = 0;
};

}  // namespace lb

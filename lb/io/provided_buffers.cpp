#include "lb/io/provided_buffers.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace lb {

Result<std::unique_ptr<ProvidedBuffers>> ProvidedBuffers::create(io_uring* ring, uint16_t group, unsigned count,
                                                                 size_t size) {
    std::unique_ptr<ProvidedBuffers> buffers(new ProvidedBuffers(group, count, size));
    // liburing 2.3 has no io_uring_setup_buf_ring helper: map and register by hand.
    buffers->ring_bytes_ = count * sizeof(io_uring_buf);
    void* ring_memory = mmap(nullptr, buffers->ring_bytes_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (ring_memory == MAP_FAILED) return Error{std::string("buffer ring mmap failed: ") + strerror(errno)};
    buffers->ring_ = static_cast<io_uring_buf_ring*>(ring_memory);
    io_uring_buf_ring_init(buffers->ring_);

    buffers->memory_bytes_ = size_t(count) * size;
    void* memory = mmap(nullptr, buffers->memory_bytes_, PROT_READ | PROT_WRITE,
                        MAP_ANONYMOUS | MAP_PRIVATE | MAP_NORESERVE, -1, 0);
    if (memory == MAP_FAILED) return Error{std::string("receive buffers mmap failed: ") + strerror(errno)};
    buffers->memory_ = static_cast<char*>(memory);

    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uint64_t>(buffers->ring_);
    reg.ring_entries = count;
    reg.bgid = group;
    int ret = io_uring_register_buf_ring(ring, &reg, 0);
    if (ret < 0) return Error{std::string("io_uring_register_buf_ring failed: ") + strerror(-ret)};
    int mask = io_uring_buf_ring_mask(count);
    for (unsigned i = 0; i < count; ++i) {
        io_uring_buf_ring_add(buffers->ring_, buffers->buffer(static_cast<uint16_t>(i)), static_cast<unsigned>(size),
                              static_cast<unsigned short>(i), mask, static_cast<int>(i));
    }
    io_uring_buf_ring_advance(buffers->ring_, static_cast<int>(count));
    return buffers;
}

ProvidedBuffers::~ProvidedBuffers() {
    if (ring_) munmap(ring_, ring_bytes_);
    if (memory_) munmap(memory_, memory_bytes_);
}

void ProvidedBuffers::release(uint16_t id) {
    io_uring_buf_ring_add(ring_, buffer(id), static_cast<unsigned>(size_), id, io_uring_buf_ring_mask(count_), 0);
    io_uring_buf_ring_advance(ring_, 1);
}

}  // namespace lb

#include "lb/base/byte_queue.h"

#include <gtest/gtest.h>

#include <string>

namespace lb {
namespace {

std::string gathered(const ByteQueue& queue) {
    iovec iov[64];
    int n = queue.gather(iov, 64);
    std::string out;
    for (int i = 0; i < n; ++i) out.append(static_cast<char*>(iov[i].iov_base), iov[i].iov_len);
    return out;
}

TEST(ByteQueue, AppendsAcrossBlocksAndGathersInOrder) {
    ByteQueue queue;
    std::string big(ByteQueue::kBlockSize * 2 + 123, 'x');
    for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
    queue.append("head:");
    queue.append(big);
    EXPECT_EQ(queue.size(), 5 + big.size());
    EXPECT_EQ(gathered(queue), "head:" + big);
}

TEST(ByteQueue, PartialConsumeKeepsTheRest) {
    ByteQueue queue;
    std::string data(ByteQueue::kBlockSize + 10, 'q');
    data[ByteQueue::kBlockSize] = 'Z';
    queue.append(data);
    queue.consume(ByteQueue::kBlockSize - 1);
    EXPECT_EQ(queue.size(), 11u);
    EXPECT_EQ(gathered(queue), data.substr(ByteQueue::kBlockSize - 1));
    queue.consume(11);
    EXPECT_TRUE(queue.empty());
    queue.append("again");
    EXPECT_EQ(gathered(queue), "again");
}

TEST(ByteQueue, AnEmptiedQueueHoldsNoBlock) {
    ByteQueue queue;
    EXPECT_EQ(queue.block_count(), 0u);
    queue.append("HTTP/1.1 200 OK\r\n\r\n");
    EXPECT_EQ(queue.block_count(), 1u);
    queue.consume(5);
    EXPECT_EQ(queue.block_count(), 1u);
    queue.consume(queue.size());
    EXPECT_EQ(queue.block_count(), 0u) << "an idle connection must not keep a 16 KiB block";
    queue.append(std::string(ByteQueue::kBlockSize * 3, 'x'));
    queue.consume(ByteQueue::kBlockSize + 1);  // the first block is spent, the second started
    EXPECT_EQ(queue.block_count(), 2u);
    EXPECT_EQ(gathered(queue), std::string(ByteQueue::kBlockSize * 2 - 1, 'x'));
    queue.consume(queue.size());
    EXPECT_EQ(queue.block_count(), 0u);
}

TEST(ByteQueue, GatherRespectsTheIovecLimit) {
    ByteQueue queue;
    queue.append(std::string(ByteQueue::kBlockSize * 5, 'b'));
    iovec iov[2];
    EXPECT_EQ(queue.gather(iov, 2), 2);
    EXPECT_EQ(iov[0].iov_len + iov[1].iov_len, ByteQueue::kBlockSize * 2);
}

TEST(ByteQueue, MoveLeavesTheSourceEmpty) {
    ByteQueue a;
    a.append("payload");
    ByteQueue b(std::move(a));
    EXPECT_TRUE(a.empty());
    EXPECT_EQ(gathered(b), "payload");
}

}  // namespace
}  // namespace lb

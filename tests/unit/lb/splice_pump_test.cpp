// SplicePump against real loopback TCP connections: bytes arrive whole and
// in order through a slow reader (the pipe and the sockets fill, the pump
// waits for room), FIN comes after the last byte, a held output waits, a
// reset is reported, and a pump holds no pipe while nothing is in flight.
#include "lb/io/splice_pump.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/unit/lb/loopback_support.h"

namespace lb {
namespace {

using test::loopback_pair;
using test::pattern;

struct Events final : SplicePump::Handler {
    void on_pump_moved(SplicePump&, size_t bytes) override { moved += bytes; }
    void on_pump_eof(SplicePump&) override { eof = true; }
    void on_pump_error(SplicePump&, int e) override { error = e; }
    void on_pump_unavailable(SplicePump&) override { unavailable = true; }
    size_t moved = 0;
    bool eof = false;
    int error = 0;
    bool unavailable = false;
};

// The pump relays from `source_far`'s peer to `sink_far`'s peer:
//   writer -> source_far ~~ source_near -> [pump] -> sink_near ~~ sink_far -> reader
class SplicePumpTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto created = EventLoop::create({});
        ASSERT_TRUE(created.ok());
        loop_ = std::move(created.value());
        std::tie(source_far_, source_near_) = loopback_pair();
        std::tie(sink_near_, sink_far_) = loopback_pair();
    }
    void TearDown() override {
        for (int fd : {source_far_, source_near_, sink_near_, sink_far_}) {
            if (fd >= 0) ::close(fd);
        }
    }

    void run_until(std::function<bool()> done) {
        loop_->stop();
        loop_->set_exit_condition(std::move(done));
        loop_->run();
    }

    // Stops the pump and turns the loop until it has freed itself (a pump
    // counts as a live stream until then).
    void stop(std::unique_ptr<SplicePump> pump) {
        SplicePump::stop(std::move(pump), false);
        loop_->post([] {});  // a turn of the loop even if no poll was armed
        run_until([this] { return loop_->live_streams() == 0; });
    }

    std::unique_ptr<EventLoop> loop_;
    int source_far_ = -1, source_near_ = -1, sink_near_ = -1, sink_far_ = -1;
};

TEST_F(SplicePumpTest, ManyMegabytesArriveWholeAndInOrderThroughASlowReaderThenFin) {
    Events events;
    auto pump = SplicePump::start(*loop_, source_near_, sink_near_, &events);
    const size_t total = 48u << 20;

    std::thread writer([&] {
        for (size_t sent = 0; sent < total;) {
            std::string piece = pattern(sent, std::min<size_t>(total - sent, 100000));
            ASSERT_EQ(::send(source_far_, piece.data(), piece.size(), MSG_NOSIGNAL),
                      static_cast<ssize_t>(piece.size()));
            sent += piece.size();
        }
        ::shutdown(source_far_, SHUT_WR);
    });
    std::string received;
    std::atomic<bool> reader_done{false};
    std::thread reader([&] {
        char chunk[4096];  // small reads: the destination is often full
        for (;;) {
            ssize_t n = ::recv(sink_far_, chunk, sizeof(chunk), 0);
            if (n <= 0) break;
            received.append(chunk, static_cast<size_t>(n));
        }
        reader_done = true;
        loop_->post([] {});
    });
    run_until([&] { return events.eof || events.error != 0; });
    writer.join();
    EXPECT_TRUE(events.eof);
    EXPECT_EQ(events.error, 0);
    EXPECT_EQ(events.moved, total);
    EXPECT_EQ(pump->in_flight(), 0u);
    EXPECT_GE(loop_->pipes().spare(), 1u) << "the pipe went back to the pool once empty";
    ::shutdown(sink_near_, SHUT_WR);  // what the tunnel does on on_pump_eof
    reader.join();
    ASSERT_EQ(received.size(), total);
    EXPECT_TRUE(received == pattern(0, total)) << "bytes reordered, lost or repeated";
    stop(std::move(pump));
}

TEST_F(SplicePumpTest, TinySegmentsThatFillThePipesSlotsAreAllDelivered) {
    // Small segments may each take a pipe slot (unless the receiver merged
    // them): a pipe can fill long before its byte capacity, and a read stop
    // short with bytes still in the socket that no later wake-up announces
    // (the writer has stopped).
    int one = 1;
    ::setsockopt(source_far_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    Events events;
    auto pump = SplicePump::start(*loop_, source_near_, sink_near_, &events);
    pump->hold_output(true);  // let the source queue up behind a full pipe first
    const size_t pieces = 3000;
    std::string all;
    for (size_t i = 0; i < pieces; ++i) {
        std::string piece = pattern(all.size(), 1 + i % 13);
        ASSERT_EQ(::send(source_far_, piece.data(), piece.size(), 0), static_cast<ssize_t>(piece.size()));
        all += piece;
    }
    run_until([&] { return events.moved > 0; });
    pump->hold_output(false);
    std::string received;
    std::thread reader([&] {
        char chunk[4096];
        while (received.size() < all.size()) {
            ssize_t n = ::recv(sink_far_, chunk, sizeof(chunk), 0);
            if (n <= 0) break;
            received.append(chunk, static_cast<size_t>(n));
        }
        loop_->post([] {});
    });
    run_until([&] { return (events.moved == all.size() && pump->in_flight() == 0) || events.error != 0; });
    reader.join();
    EXPECT_EQ(events.moved, all.size());
    EXPECT_TRUE(received == all);
    stop(std::move(pump));
}

TEST_F(SplicePumpTest, AnIdlePumpHoldsNoPipe) {
    Events events;
    auto pump = SplicePump::start(*loop_, source_near_, sink_near_, &events);
    std::string hello = "hello";
    ASSERT_EQ(::send(source_far_, hello.data(), hello.size(), 0), 5);
    run_until([&] { return events.moved == 5; });
    char got[5];
    ASSERT_EQ(::recv(sink_far_, got, sizeof(got), MSG_WAITALL), 5);
    EXPECT_EQ(std::string(got, 5), hello);
    EXPECT_EQ(pump->in_flight(), 0u);
    EXPECT_EQ(loop_->pipes().spare(), 1u) << "taken for the five bytes, given back after";
    stop(std::move(pump));
}

TEST_F(SplicePumpTest, ALimitedPumpStopsAtItsLimitAndKeepsItsPipeUntilThen) {
    Events events;
    auto pump = SplicePump::start(*loop_, source_near_, sink_near_, &events, 8);
    ASSERT_EQ(::send(source_far_, "abcde", 5, 0), 5);
    run_until([&] { return events.moved == 5 && pump->in_flight() == 0; });
    EXPECT_EQ(loop_->pipes().spare(), 0u) << "a body's pump keeps its pipe between bursts";
    EXPECT_FALSE(events.eof);
    ASSERT_EQ(::send(source_far_, "fghNEXT", 7, 0), 7);  // 3 more for the limit, then what follows
    run_until([&] { return events.eof; });
    EXPECT_EQ(events.moved, 8u);
    char got[8];
    ASSERT_EQ(::recv(sink_far_, got, sizeof(got), MSG_WAITALL), 8);
    EXPECT_EQ(std::string(got, 8), "abcdefgh");
    stop(std::move(pump));
    EXPECT_EQ(loop_->pipes().spare(), 1u);
    char rest[4];
    ASSERT_EQ(::recv(source_near_, rest, sizeof(rest), MSG_DONTWAIT), 4) << "what follows stays in the source";
    EXPECT_EQ(std::string(rest, 4), "NEXT");
}

TEST_F(SplicePumpTest, HeldOutputWaitsThenFlows) {
    Events events;
    auto pump = SplicePump::start(*loop_, source_near_, sink_near_, &events);
    pump->hold_output(true);
    ASSERT_EQ(::send(source_far_, "abc", 3, 0), 3);
    run_until([&] { return events.moved == 3; });
    char got[3];
    EXPECT_EQ(::recv(sink_far_, got, sizeof(got), MSG_DONTWAIT), -1) << "nothing may pass while held";
    EXPECT_EQ(pump->in_flight(), 3u);
    pump->hold_output(false);
    ASSERT_EQ(::recv(sink_far_, got, sizeof(got), MSG_WAITALL), 3);
    EXPECT_EQ(std::string(got, 3), "abc");
    EXPECT_EQ(pump->in_flight(), 0u);
    stop(std::move(pump));
}

TEST_F(SplicePumpTest, AResetSourceIsReported) {
    Events events;
    auto pump = SplicePump::start(*loop_, source_near_, sink_near_, &events);
    linger hard{1, 0};
    ::setsockopt(source_far_, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
    ::close(source_far_);
    source_far_ = -1;
    run_until([&] { return events.error != 0 || events.eof; });
    EXPECT_EQ(events.error, -ECONNRESET);
    EXPECT_FALSE(events.eof);
    stop(std::move(pump));
}

TEST_F(SplicePumpTest, StoppedWhileWaitingForRoomFreesItself) {
    // The destination's reader never reads: the pump ends up with bytes in
    // its pipe and a poll for room armed; stopping must cancel it and free
    // the pump (ASan reports a leak otherwise) without a callback.
    Events events;
    auto pump = SplicePump::start(*loop_, source_near_, sink_near_, &events);
    std::string block(1 << 20, 'x');
    std::atomic<bool> stop_writing{false};
    std::thread writer([&] {
        while (!stop_writing) {
            if (::send(source_far_, block.data(), block.size(), MSG_DONTWAIT | MSG_NOSIGNAL) <= 0) {
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
        }
    });
    run_until([&] { return pump->in_flight() > 0 && events.moved > (4u << 20); });
    stop_writing = true;
    writer.join();
    stop(std::move(pump));
    EXPECT_EQ(events.error, 0);
    EXPECT_FALSE(events.eof);
}

TEST_F(SplicePumpTest, WithoutDescriptorsForAPipeItStepsAsideHoldingNothing) {
    Events events;
    auto pump = SplicePump::start(*loop_, source_near_, sink_near_, &events);
    // Use up every descriptor the (lowered) limit allows: pipe2 must fail.
    rlimit saved{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
    rlimit low = saved;
    low.rlim_cur = 256;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
    std::vector<int> filler;
    for (int fd; (fd = ::dup(0)) >= 0;) filler.push_back(fd);
    ASSERT_EQ(errno, EMFILE);

    ASSERT_EQ(::send(source_far_, "abc", 3, 0), 3);
    run_until([&] { return events.unavailable || events.moved > 0; });
    for (int fd : filler) ::close(fd);
    ::setrlimit(RLIMIT_NOFILE, &saved);
    EXPECT_TRUE(events.unavailable);
    EXPECT_EQ(events.moved, 0u);
    EXPECT_EQ(events.error, 0);
    // The bytes are still in the source, for the owner to read its own way.
    char got[3];
    ASSERT_EQ(::recv(source_near_, got, sizeof(got), MSG_DONTWAIT), 3);
    EXPECT_EQ(std::string(got, 3), "abc");
    stop(std::move(pump));
}

}  // namespace
}  // namespace lb

// TcpStream writing against a real loopback TCP connection: bulk writes go
// straight to the socket when it has room and fall back to the queue when
// it does not, and neither path may reorder, lose or duplicate a byte.
#include "lb/io/tcp_stream.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <linux/tcp.h>  // tcp_info with tcpi_data_segs_out (glibc's is older)
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "lb/io/socket_options.h"
#include "tests/unit/lb/loopback_support.h"

namespace lb {
namespace {

using test::loopback_pair;
using test::pattern;

struct Recorder final : StreamHandler {
    void on_stream_connected(Stream&, int) override {}
    void on_stream_data(Stream&, std::string_view) override {}
    void on_stream_eof(Stream&) override {}
    void on_stream_error(Stream&, int e) override { error = e; }
    void on_stream_drained(Stream&) override { ++drained; }
    int error = 0;
    int drained = 0;
};

class TcpStreamTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto created = EventLoop::create({});
        ASSERT_TRUE(created.ok());
        loop_ = std::move(created.value());
    }

    // Runs the loop until `done` says so.
    void run_until(std::function<bool()> done) {
        loop_->stop();
        loop_->set_exit_condition(std::move(done));
        loop_->run();
    }

    void close_stream(std::unique_ptr<TcpStream> stream) {
        Stream::close(std::move(stream), CloseMode::abort);
        loop_->post([] {});  // one more turn of the loop frees it
        run_until([this] { return loop_->live_streams() == 0; });
    }

    std::unique_ptr<EventLoop> loop_;
};

TEST_F(TcpStreamTest, WritesOfEverySizeArriveWholeAndInOrderWhileTheReaderLags) {
    Recorder recorder;
    auto [near, far] = loopback_pair(16384);
    auto stream = std::make_unique<TcpStream>(*loop_, UniqueFd(near), SocketAddress());
    stream->set_handler(&recorder);

    // Sizes around the direct-send threshold and far above the socket's room,
    // mixed with small writes that must queue behind whatever is pending.
    const size_t sizes[] = {100, TcpStream::kDirectSendMin - 1, TcpStream::kDirectSendMin, 1, 65536, 7,
                            1 << 20, 16384, 3, 300000, TcpStream::kDirectSendMin};
    size_t total = 0;
    for (size_t size : sizes) {
        stream->write(pattern(total, size));
        total += size;
    }
    EXPECT_TRUE(stream->output_high()) << "the reader has not read yet: most of it must be queued";

    std::string received;
    std::atomic<bool> read_all{false};
    std::thread reader([&, far = far] {
        char chunk[8192];
        while (received.size() < total) {
            ssize_t n = ::recv(far, chunk, sizeof(chunk), 0);
            if (n <= 0) break;
            received.append(chunk, static_cast<size_t>(n));
        }
        read_all = true;
        loop_->post([] {});  // wakes the loop to see it
    });
    run_until([&] { return read_all.load() && stream->pending_output() == 0; });
    reader.join();

    ASSERT_EQ(received.size(), total);
    EXPECT_TRUE(received == pattern(0, total)) << "bytes reordered, lost or repeated";
    EXPECT_EQ(recorder.error, 0);
    EXPECT_EQ(recorder.drained, 1) << "the producer hears once that the queue went low again";
    close_stream(std::move(stream));
    ::close(far);
}

uint32_t data_segments_sent(int fd) {
    tcp_info info{};
    socklen_t len = sizeof(info);
    EXPECT_EQ(::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len), 0);
    return info.tcpi_data_segs_out;
}

// What a handler writes while handling one event (a response's head, then
// its body) leaves in one send: one TCP segment, not one per write (the
// second used to wait for the first send's completion and go alone).
TEST_F(TcpStreamTest, WritesMadeInOneTurnLeaveInOneSegment) {
    struct Answerer final : StreamHandler {
        void on_stream_connected(Stream&, int) override {}
        void on_stream_data(Stream& stream, std::string_view) override {
            stream.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n");
            stream.write("ok");
            ++answered;
        }
        void on_stream_eof(Stream&) override {}
        void on_stream_error(Stream&, int) override {}
        void on_stream_drained(Stream&) override {}
        int answered = 0;
    } answerer;
    auto [near, far] = loopback_pair(0);
    set_tcp_nodelay(near);
    auto stream = std::make_unique<TcpStream>(*loop_, UniqueFd(near), SocketAddress());
    stream->set_handler(&answerer);
    stream->start_reading();
    const std::string expected = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    for (int round = 0; round < 3; ++round) {
        uint32_t before = data_segments_sent(near);
        ASSERT_EQ(::send(far, "GET", 3, 0), 3);
        run_until([&] { return answerer.answered == round + 1 && stream->pending_output() == 0; });
        EXPECT_EQ(data_segments_sent(near) - before, 1u) << "round " << round;
        std::string received;
        while (received.size() < expected.size()) {
            char chunk[256];
            ssize_t n = ::recv(far, chunk, sizeof(chunk), 0);
            ASSERT_GT(n, 0);
            received.append(chunk, static_cast<size_t>(n));
        }
        EXPECT_EQ(received, expected);
    }
    close_stream(std::move(stream));
    ::close(far);
}

// A handler that answers and closes while handling the request, when the
// peer's FIN came in the same batch as the request (a client that sends and
// half-closes): the answer still goes out before the stream ends, in both
// graceful modes. With the send scheduled for the end of the turn, the FIN's
// completion used to end the close first and drop the answer.
TEST_F(TcpStreamTest, AnAnswerWrittenBeforeCloseSurvivesThePeersFinInTheSameBatch) {
    struct AnswerAndClose final : StreamHandler {
        void on_stream_connected(Stream&, int) override {}
        void on_stream_data(Stream& stream, std::string_view) override {
            stream.write("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
            Stream::close(std::move(*owner), mode);
        }
        void on_stream_eof(Stream&) override {}
        void on_stream_error(Stream&, int) override {}
        void on_stream_drained(Stream&) override {}
        std::unique_ptr<Stream>* owner = nullptr;
        CloseMode mode = CloseMode::graceful;
    };
    for (CloseMode mode : {CloseMode::graceful, CloseMode::linger}) {
        auto [near, far] = loopback_pair(0);
        ASSERT_EQ(::send(far, "GET / HTTP/1.0\r\n\r\n", 18, 0), 18);
        ASSERT_EQ(::shutdown(far, SHUT_WR), 0);
        // Both are in near's receive queue before reading starts, so the
        // data and the EOF complete in one batch. (CLOSE_WAIT is 8 in the
        // kernel's tcp_states.h; linux/tcp.h does not name it.)
        constexpr uint8_t kCloseWait = 8;
        for (int i = 0; i < 200; ++i) {
            tcp_info info{};
            socklen_t len = sizeof(info);
            ::getsockopt(near, IPPROTO_TCP, TCP_INFO, &info, &len);
            if (info.tcpi_state == kCloseWait) break;
            ::usleep(1000);
        }
        AnswerAndClose handler;
        std::unique_ptr<Stream> stream = std::make_unique<TcpStream>(*loop_, UniqueFd(near), SocketAddress());
        handler.owner = &stream;
        handler.mode = mode;
        stream->set_handler(&handler);
        stream->start_reading();
        run_until([this] { return loop_->live_streams() == 0; });
        std::string received;
        char chunk[256];
        ssize_t n;
        while ((n = ::recv(far, chunk, sizeof(chunk), 0)) > 0) received.append(chunk, static_cast<size_t>(n));
        EXPECT_EQ(received, "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
            << (mode == CloseMode::linger ? "linger" : "graceful");
        ::close(far);
    }
}

TEST_F(TcpStreamTest, ABulkWriteToAResetPeerReportsTheError) {
    auto [near, far] = loopback_pair(0);
    Recorder recorder;
    auto stream = std::make_unique<TcpStream>(*loop_, UniqueFd(near), SocketAddress());
    stream->set_handler(&recorder);
    linger reset{1, 0};
    ::setsockopt(far, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
    ::close(far);  // RST to `near`

    // The first write may still be taken by the socket before the reset is
    // seen; keep writing until the error surfaces through the handler.
    for (int i = 0; i < 100 && recorder.error == 0; ++i) {
        stream->write(pattern(0, 65536));
        run_until([&] { return recorder.error != 0 || stream->pending_output() == 0; });
    }
    EXPECT_TRUE(recorder.error == -ECONNRESET || recorder.error == -EPIPE) << recorder.error;
    close_stream(std::move(stream));
}

// A reader that keeps pausing (a request body relayed to a slower target)
// holds at most what its receives had in flight when it paused: the
// stream must not receive more while it still holds bytes (it used to, when
// reading resumed before the cancelled receive ended: a fast uploader to a
// slow target then grew the held bytes without bound).
TEST_F(TcpStreamTest, APausingReaderHoldsNoMoreThanTheReceiveBuffers) {
    EventLoop::Options options;
    options.buffer_count = 16;
    options.buffer_size = 4096;
    auto created = EventLoop::create(options);
    ASSERT_TRUE(created.ok());
    loop_ = std::move(created.value());
    const size_t ring_bytes = options.buffer_count * options.buffer_size;
    const size_t total = 32u << 20;

    auto [near, far] = loopback_pair(0);
    struct Pauser final : StreamHandler {
        void on_stream_connected(Stream&, int) override {}
        void on_stream_data(Stream& s, std::string_view data) override {
            received.append(data);
            max_held = std::max(max_held, stream->held_input());
            // Pause on every other piece and resume on a later turn, the way
            // a target's drained send queue resumes a relayed body.
            if (++pieces % 2 == 0) return;
            s.stop_reading();
            loop->post([this] { stream->start_reading(); });
        }
        void on_stream_eof(Stream&) override { eof = true; }
        void on_stream_error(Stream&, int) override { eof = true; }
        void on_stream_drained(Stream&) override {}
        EventLoop* loop = nullptr;
        TcpStream* stream = nullptr;
        std::string received;
        size_t pieces = 0;
        size_t max_held = 0;
        bool eof = false;
    } pauser;
    auto stream = std::make_unique<TcpStream>(*loop_, UniqueFd(near), SocketAddress());
    pauser.loop = loop_.get();
    pauser.stream = stream.get();
    stream->set_handler(&pauser);
    stream->start_reading();

    std::thread sender([far = far, total] {
        std::string data = pattern(0, total);
        size_t sent = 0;
        while (sent < total) {
            ssize_t n = ::send(far, data.data() + sent, total - sent, MSG_NOSIGNAL);
            if (n <= 0) break;
            sent += static_cast<size_t>(n);
        }
        ::shutdown(far, SHUT_WR);
    });
    run_until([&] { return pauser.eof; });
    sender.join();

    ASSERT_EQ(pauser.received.size(), total);
    EXPECT_TRUE(pauser.received == pattern(0, total)) << "bytes reordered, lost or repeated";
    EXPECT_LE(pauser.max_held, ring_bytes) << "held more than the receive buffers can have had in flight";
    close_stream(std::move(stream));
    ::close(far);
}

// A target's connection carries requests and answers, so the kernel keeps
// it in its interactive ACK mode, where the ACK of a burst's last segment
// waits for the delayed-ACK timer (40 ms and more) even after the bytes are
// read. A stream paused to splice a body from leaves that mode: the pump
// reads as fast as bytes arrive, and its reads must ACK them.
TEST_F(TcpStreamTest, PausingToSpliceLeavesTheInteractiveAckMode) {
    auto [near, far] = loopback_pair(0);
    auto quickack = [fd = near] {
        int value = -1;
        socklen_t length = sizeof(value);
        EXPECT_EQ(::getsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &value, &length), 0);
        return value;
    };
    // What a request sent soon after a response's bytes does to a socket.
    int zero = 0;
    ASSERT_EQ(::setsockopt(near, IPPROTO_TCP, TCP_QUICKACK, &zero, sizeof(zero)), 0);
    ASSERT_EQ(quickack(), 0) << "the kernel did not enter its interactive ACK mode";

    struct Paused final : StreamHandler {
        void on_stream_connected(Stream&, int) override {}
        void on_stream_data(Stream&, std::string_view) override {}
        void on_stream_eof(Stream&) override {}
        void on_stream_error(Stream&, int) override {}
        void on_stream_drained(Stream&) override {}
        void on_stream_paused(Stream&) override { paused = true; }
        bool paused = false;
    } handler;
    auto stream = std::make_unique<TcpStream>(*loop_, UniqueFd(near), SocketAddress());
    stream->set_handler(&handler);
    stream->start_reading();
    ASSERT_TRUE(stream->pause_for_splice());
    run_until([&] { return handler.paused; });
    EXPECT_EQ(quickack(), 1) << "still in the interactive ACK mode while a body is spliced from it";
    EXPECT_EQ(stream->splice_source_fd(), near);
    close_stream(std::move(stream));
    ::close(far);
}

// Records how a connect ended.
struct ConnectResult final : StreamHandler {
    void on_stream_connected(Stream&, int e) override { error = e, done = true; }
    void on_stream_data(Stream&, std::string_view) override {}
    void on_stream_eof(Stream&) override {}
    void on_stream_error(Stream&, int) override {}
    void on_stream_drained(Stream&) override {}
    int error = 0;
    bool done = false;
};

// The connect and its linked timeout are two entries: when the submission
// queue had room for only one, a flush between them sent the connect as
// half a link (it failed with -EINPROGRESS, its timeout orphaned).
TEST(TcpStreamConnect, TimesOutEvenWhenTheSubmissionQueueFillsUnderIt) {
    EventLoop::Options options;
    options.ring_entries = 4;
    auto created = EventLoop::create(options);
    ASSERT_TRUE(created.ok());
    std::unique_ptr<EventLoop> loop = std::move(created.value());
    // A listener whose accept queue is full: further SYNs are dropped.
    sockaddr_in addr;
    int listener = test::loopback_listener(0, addr);
    std::vector<int> fillers;
    for (int i = 0; i < 4; ++i) {
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
        fillers.push_back(fd);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // handshakes done: the queue is full
    struct Nothing final : IoCompletion {
        void on_complete(int, uint32_t) override {}
    } nothing;
    // The loop's wake-up read and these two: three of four entries taken.
    loop->cancel(nothing);
    loop->cancel(nothing);
    ConnectResult handler;
    std::unique_ptr<Stream> stream = TcpStream::connect(*loop, SocketAddress::from_sockaddr(
                                                                   reinterpret_cast<sockaddr*>(&addr), sizeof(addr)),
                                                       200, &handler);
    loop->stop();
    loop->set_exit_condition([&] { return handler.done; });
    loop->run();
    EXPECT_EQ(handler.error, -ETIMEDOUT);
    Stream::close(std::move(stream), CloseMode::abort);
    loop->post([] {});
    loop->set_exit_condition([&] { return loop->live_streams() == 0; });
    loop->run();
    for (int fd : fillers) ::close(fd);
    ::close(listener);
}

// shutdown_write() while the connect is in flight, nothing written: the FIN
// must follow the connect (a client that connects and half-closes at once).
TEST_F(TcpStreamTest, AShutdownBeforeTheConnectCompletesSendsTheFinAfterIt) {
    sockaddr_in addr;
    int listener = test::loopback_listener(1, addr);
    ConnectResult handler;
    auto stream = TcpStream::connect(*loop_, SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&addr), sizeof(addr)),
                                     5000, &handler);
    stream->shutdown_write();
    run_until([&] { return handler.done; });
    ASSERT_EQ(handler.error, 0);
    int far = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    ASSERT_GE(far, 0);
    timeval deadline{5, 0};
    ::setsockopt(far, SOL_SOCKET, SO_RCVTIMEO, &deadline, sizeof(deadline));
    char byte;
    EXPECT_EQ(::recv(far, &byte, 1, 0), 0) << "no FIN within 5 s (errno " << errno << ")";
    close_stream(std::move(stream));
    ::close(far);
    ::close(listener);
}

}  // namespace
}  // namespace lb

// What a binary upgrade or systemd hands over: inherited sockets matched by
// what the kernel says they are, socket sets built on them, and the state
// carried from one lb to the next.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <utility>

#include "lb/control/binary_upgrade.h"
#include "lb/io/inherited_sockets.h"
#include "lb/io/listen_socket.h"
#include "worker_snapshot_support.h"

namespace lb {
namespace {

SocketAddress loopback(uint16_t port) { return *SocketAddress::parse("127.0.0.1:" + std::to_string(port)); }

// A bound socket on a free loopback port, with SO_REUSEPORT as lb's own.
int bound_socket(int type, uint16_t* port) {
    int fd = socket(AF_INET, type, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    socklen_t len = sizeof(address);
    getsockname(fd, reinterpret_cast<sockaddr*>(&address), &len);
    *port = ntohs(address.sin_port);
    return fd;
}

// Two descriptors are the same socket (one a dup of the other) when their
// socket inodes are the same.
ino_t socket_inode(int fd) {
    struct stat info{};
    fstat(fd, &info);
    return info.st_ino;
}

bool is_listening(int fd) {
    int listening = 0;
    socklen_t len = sizeof(listening);
    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len);
    return listening != 0;
}

TEST(InheritedSockets, MatchesByAddressAndKindAndKeepsTheOrderGiven) {
    uint16_t tcp_port = 0, udp_port = 0;
    int first = bound_socket(SOCK_STREAM, &tcp_port);
    int udp = bound_socket(SOCK_DGRAM, &udp_port);
    // A second member of the first one's SO_REUSEPORT group.
    int second = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(second, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    SocketAddress tcp_address = loopback(tcp_port);
    ASSERT_EQ(bind(second, tcp_address.sa(), tcp_address.len()), 0);
    listen(first, 16);
    listen(second, 16);
    ino_t first_inode = socket_inode(first), second_inode = socket_inode(second);

    std::vector<std::string> problems;
    InheritedSockets inherited({first, udp, second}, "a test", &problems);
    EXPECT_TRUE(problems.empty());
    EXPECT_EQ(fcntl(first, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC) << "inherited descriptors get close-on-exec back";

    // Same port, other kind: not this one.
    EXPECT_TRUE(inherited.take(loopback(tcp_port), ListenSocketSet::Kind::datagram).empty());
    std::vector<UniqueFd> taken = inherited.take(tcp_address, ListenSocketSet::Kind::stream);
    ASSERT_EQ(taken.size(), 2u);
    EXPECT_EQ(socket_inode(taken[0].get()), first_inode);
    EXPECT_EQ(socket_inode(taken[1].get()), second_inode);
    EXPECT_TRUE(inherited.take(tcp_address, ListenSocketSet::Kind::stream).empty()) << "taken once";

    std::vector<std::string> closed = inherited.close_unclaimed();
    ASSERT_EQ(closed.size(), 1u);
    EXPECT_EQ(closed[0], "udp 127.0.0.1:" + std::to_string(udp_port));
    EXPECT_EQ(fcntl(udp, F_GETFD), -1) << "the unclaimed socket is closed";
    EXPECT_TRUE(inherited.empty());
}

TEST(InheritedSockets, ADescriptorThatIsNotASocketIsClosedAndNamed) {
    int pipe_fds[2];
    ASSERT_EQ(pipe(pipe_fds), 0);
    std::vector<std::string> problems;
    InheritedSockets inherited({pipe_fds[0]}, "systemd", &problems);
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_NE(problems[0].find("descriptor " + std::to_string(pipe_fds[0]) + " from systemd is not a socket"),
              std::string::npos)
        << problems[0];
    EXPECT_TRUE(inherited.empty());
    EXPECT_EQ(fcntl(pipe_fds[0], F_GETFD), -1);
    close(pipe_fds[1]);
}

TEST(ListenSocketSet, FewerInheritedSocketsThanWorkersAreSharedNotAdded) {
    uint16_t port = 0;
    int given = bound_socket(SOCK_STREAM, &port);  // bound, not listening: the set makes it listen
    ino_t inode = socket_inode(given);
    std::vector<UniqueFd> inherited;
    inherited.emplace_back(given);
    auto set = ListenSocketSet::open(loopback(port), ListenSocketSet::Kind::stream, 3, std::move(inherited));
    ASSERT_TRUE(set) << set.error();
    ASSERT_EQ((*set)->count(), 3);
    EXPECT_EQ((*set)->distinct(), 1) << "only the one socket is handed on";
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(socket_inode((*set)->fd(i)), inode) << "descriptor " << i << " is the one socket given";
        EXPECT_TRUE((*set)->served_by(i, i));
        EXPECT_NE(fcntl((*set)->fd(i), F_GETFL) & O_NONBLOCK, 0);
    }
    EXPECT_TRUE(is_listening((*set)->fd(0)));
}

TEST(ListenSocketSet, MoreInheritedSocketsThanWorkersAreAllServed) {
    uint16_t port = 0;
    std::vector<UniqueFd> inherited;
    inherited.emplace_back(bound_socket(SOCK_STREAM, &port));
    SocketAddress address = loopback(port);
    for (int i = 1; i < 4; ++i) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
        ASSERT_EQ(bind(fd, address.sa(), address.len()), 0);
        inherited.emplace_back(fd);
    }
    auto set = ListenSocketSet::open(address, ListenSocketSet::Kind::stream, 2, std::move(inherited));
    ASSERT_TRUE(set) << set.error();
    ASSERT_EQ((*set)->count(), 4);
    EXPECT_EQ((*set)->distinct(), 4);
    EXPECT_EQ((*set)->workers(), 2);
    // Every socket has exactly one worker.
    for (int index = 0; index < 4; ++index)
        EXPECT_EQ(int((*set)->served_by(index, 0)) + int((*set)->served_by(index, 1)), 1) << index;
    EXPECT_TRUE((*set)->served_by(2, 0));
    EXPECT_TRUE((*set)->served_by(3, 1));
}

TEST(ListenSocketPool, TakesTheInheritedSocketForItsAddressAndOpensTheRest) {
    uint16_t port = 0;
    int given = bound_socket(SOCK_STREAM, &port);
    ino_t inode = socket_inode(given);
    std::vector<std::string> problems;
    InheritedSockets inherited({given}, "a test", &problems);
    ListenSocketPool pool;
    pool.inherit(&inherited);
    auto set = pool.get(loopback(port), ListenSocketSet::Kind::stream, 1);
    ASSERT_TRUE(set) << set.error();
    EXPECT_EQ(socket_inode((*set)->fd(0)), inode);
    // Another address: opened as usual.
    uint16_t other_port = 0;
    close(bound_socket(SOCK_STREAM, &other_port));
    auto other = pool.get(loopback(other_port), ListenSocketSet::Kind::stream, 1);
    ASSERT_TRUE(other) << other.error();
    EXPECT_NE(socket_inode((*other)->fd(0)), inode);
}

// What a socket accepted from `listening` inherited: TCP_NODELAY and
// TCP_KEEPIDLE (0 when SO_KEEPALIVE is off).
std::pair<int, int> accepted_options(int listening, uint16_t port) {
    int client = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    EXPECT_EQ(connect(client, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    int flags = fcntl(listening, F_GETFL);
    fcntl(listening, F_SETFL, flags & ~O_NONBLOCK);
    int accepted = accept(listening, nullptr, nullptr);
    fcntl(listening, F_SETFL, flags);
    int nodelay = 0, keepalive = 0, idle = 0;
    socklen_t len = sizeof(int);
    getsockopt(accepted, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len);
    getsockopt(accepted, SOL_SOCKET, SO_KEEPALIVE, &keepalive, &len);
    getsockopt(accepted, IPPROTO_TCP, TCP_KEEPIDLE, &idle, &len);
    close(accepted);
    close(client);
    return {nodelay, keepalive ? idle : 0};
}

// Accepted sockets inherit these from the listening one, set before it
// listens: no connection may arrive without them.
TEST(ListenSocketSet, ClientSocketOptionsAreSetOnOpenedAndInheritedSockets) {
    conf::TcpKeepalive keepalive;
    keepalive.idle = std::chrono::seconds(41);
    uint16_t port = 0;
    close(bound_socket(SOCK_STREAM, &port));
    auto opened = ListenSocketSet::open(loopback(port), ListenSocketSet::Kind::stream, 1, {}, &keepalive);
    ASSERT_TRUE(opened) << opened.error();
    EXPECT_EQ(accepted_options((*opened)->fd(0), port), std::make_pair(1, 41));

    uint16_t given_port = 0;
    std::vector<UniqueFd> given;
    given.emplace_back(bound_socket(SOCK_STREAM, &given_port));
    keepalive.enabled = false;
    auto inherited = ListenSocketSet::open(loopback(given_port), ListenSocketSet::Kind::stream, 1, std::move(given),
                                           &keepalive);
    ASSERT_TRUE(inherited) << inherited.error();
    EXPECT_EQ(accepted_options((*inherited)->fd(0), given_port), std::make_pair(1, 0));
}

tls::TicketKeys::Key key_with(unsigned char seed, int64_t epoch) {
    tls::TicketKeys::Key key;
    key.name.fill(seed);
    key.aes.fill(static_cast<unsigned char>(seed + 1));
    key.hmac.fill(static_cast<unsigned char>(seed + 2));
    key.epoch = epoch;
    return key;
}

TEST(CarriedState, RoundTripsTicketKeysAndTheStickySecret) {
    CarriedState state;
    state.ticket_keys = {key_with(0xa0, 7), key_with(0x05, 6)};
    state.sticky_secret = std::string("\x00\x01\xfe secret\n", 10);
    auto parsed = CarriedState::parse(state.serialize());
    ASSERT_TRUE(parsed) << parsed.error();
    ASSERT_EQ(parsed->ticket_keys.size(), 2u);
    for (size_t i = 0; i < 2; ++i) {
        EXPECT_EQ(parsed->ticket_keys[i].name, state.ticket_keys[i].name);
        EXPECT_EQ(parsed->ticket_keys[i].aes, state.ticket_keys[i].aes);
        EXPECT_EQ(parsed->ticket_keys[i].hmac, state.ticket_keys[i].hmac);
        EXPECT_EQ(parsed->ticket_keys[i].epoch, state.ticket_keys[i].epoch);
    }
    EXPECT_EQ(parsed->sticky_secret, state.sticky_secret);
    auto empty = CarriedState::parse(CarriedState{}.serialize());
    ASSERT_TRUE(empty);
    EXPECT_TRUE(empty->ticket_keys.empty());
    EXPECT_TRUE(empty->sticky_secret.empty());
}

TEST(CarriedState, RoundTripsTargetVerdictsWithGroupNamesAsWritten) {
    CarriedState state;
    state.target_health["app\n10.0.0.1:80"] = {TargetHealth::healthy, 123456};
    state.target_health["my group\n[2001:db8::1]:8080"] = {TargetHealth::unhealthy, 0};
    auto parsed = CarriedState::parse(state.serialize());
    ASSERT_TRUE(parsed) << parsed.error();
    ASSERT_EQ(parsed->target_health.size(), 2u);
    EXPECT_EQ(parsed->target_health.at("app\n10.0.0.1:80").health, TargetHealth::healthy);
    EXPECT_EQ(parsed->target_health.at("app\n10.0.0.1:80").in_service_since_ms, 123456);
    EXPECT_EQ(parsed->target_health.at("my group\n[2001:db8::1]:8080").health, TargetHealth::unhealthy);
    // Only verdicts travel: "initial" (0) or "unused" (3) is refused.
    EXPECT_FALSE(CarriedState::parse("target-health 0 0 10.0.0.1:80 app\n"));
    EXPECT_FALSE(CarriedState::parse("target-health 3 0 10.0.0.1:80 app\n"));
    EXPECT_FALSE(CarriedState::parse("target-health 1 0 10.0.0.1:80\n")) << "no group";
}

TEST(CarriedState, RefusesDamagedLinesByNumber) {
    std::string good = CarriedState{{key_with(1, 1)}, "k", {}}.serialize();
    EXPECT_EQ(CarriedState::parse(good + "ticket-key 1 00 11 22\n").error(),
              "line 3 of the state the previous lb handed over is not valid");
    EXPECT_FALSE(CarriedState::parse("sticky-secret 0g\n"));
    EXPECT_FALSE(CarriedState::parse("sticky-secret abc\n"));
    EXPECT_FALSE(CarriedState::parse("something else\n"));
}

TEST(TicketKeys, AdoptedKeysOpenTicketsAndSealNew) {
    tls::TicketKeys old_keys(std::chrono::seconds(3600), 2);
    int64_t now = tls::TicketKeys::steady_seconds();
    auto ring = old_keys.ring_at(now);
    ASSERT_TRUE(ring);
    tls::TicketKeys new_keys(std::chrono::seconds(3600), 2);
    new_keys.adopt(old_keys.current_keys());
    auto found = new_keys.find(ring->keys.front().name.data(), now);
    ASSERT_NE(found.key, nullptr) << "a ticket of the old process opens";
    EXPECT_FALSE(found.renew);
    EXPECT_EQ(new_keys.ring_at(now)->keys.front().name, ring->keys.front().name) << "and new ones use the same key";
}

TEST(Handover, NoVariablesMeansNoHandover) {
    unsetenv("LB_UPGRADE_FDS");
    unsetenv("LB_UPGRADE_STATE_FD");
    unsetenv("LB_UPGRADE_READY_FD");
    auto handover = Handover::from_environment();
    ASSERT_TRUE(handover);
    EXPECT_FALSE(handover->has_value());
}

TEST(Handover, ReadsTheStateAndReportsReadyOnThePipe) {
    CarriedState state{{key_with(9, 3)}, "sticky", {}};
    std::string text = state.serialize();
    int memfd = memfd_create("state", 0);
    ASSERT_EQ(write(memfd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    int pipe_fds[2];
    ASSERT_EQ(pipe(pipe_fds), 0);
    setenv("LB_UPGRADE_FDS", "7,8", 1);
    setenv("LB_UPGRADE_STATE_FD", std::to_string(memfd).c_str(), 1);
    setenv("LB_UPGRADE_READY_FD", std::to_string(pipe_fds[1]).c_str(), 1);
    auto handover = Handover::from_environment();
    ASSERT_TRUE(handover) << handover.error();
    ASSERT_TRUE(handover->has_value());
    EXPECT_EQ(getenv("LB_UPGRADE_FDS"), nullptr) << "not passed on to a later child";
    EXPECT_EQ((*handover)->sockets, (std::vector<int>{7, 8}));
    EXPECT_EQ((*handover)->state.sticky_secret, "sticky");
    ASSERT_EQ((*handover)->state.ticket_keys.size(), 1u);
    EXPECT_EQ(fcntl(memfd, F_GETFD), -1) << "the state's memfd is closed once read";
    (*handover)->report_ready();
    char buffer[64] = {};
    ssize_t got = read(pipe_fds[0], buffer, sizeof(buffer));
    EXPECT_EQ(std::string(buffer, static_cast<size_t>(got)), "ready " + std::to_string(getpid()) + "\n");
    EXPECT_EQ(read(pipe_fds[0], buffer, sizeof(buffer)), 0) << "and the pipe is closed after";
    close(pipe_fds[0]);
}

TEST(Handover, RefusesMalformedVariables) {
    setenv("LB_UPGRADE_FDS", "3,x", 1);
    setenv("LB_UPGRADE_STATE_FD", "1000", 1);
    setenv("LB_UPGRADE_READY_FD", "1001", 1);
    auto handover = Handover::from_environment();
    ASSERT_FALSE(handover);
    EXPECT_NE(handover.error().find("LB_UPGRADE_FDS is not a list of descriptors"), std::string::npos);
    setenv("LB_UPGRADE_FDS", "3", 1);
    auto missing = Handover::from_environment();
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().find("must name descriptors"), std::string::npos);
}

TEST(RuntimeBuilder, ACheckedTargetStartsFromTheVerdictHandedOver) {
    RuntimeBuilder builder;
    builder.carried_health["g\n10.0.0.1:80"] = {TargetHealth::healthy, 4242};
    builder.carried_health["g\n10.0.0.2:80"] = {TargetHealth::unhealthy, 0};
    builder.carried_health["other\n10.0.0.3:80"] = {TargetHealth::healthy, 1};  // another group's
    WorkerSnapshot snapshot;
    testing::build_snapshot(builder,
                            testing::one_group_yaml("{ address: 10.0.0.1, port: 80 }, { address: 10.0.0.2, port: 80 }, "
                                                    "{ address: 10.0.0.3, port: 80 }",
                                                    "    health_check: { path: /health }\n"),
                            snapshot);
    const auto& targets = snapshot.runtime->groups[0]->targets;
    ASSERT_EQ(targets.size(), 3u);
    EXPECT_EQ(targets[0].state->health.load(), TargetHealth::healthy);
    EXPECT_EQ(targets[0].state->in_service_since_ms.load(), 4242) << "slow start goes on where it was";
    EXPECT_EQ(targets[1].state->health.load(), TargetHealth::unhealthy);
    EXPECT_EQ(targets[1].state->reason(), "failing its checks when the previous lb handed over");
    EXPECT_EQ(targets[2].state->health.load(), TargetHealth::initial) << "a verdict is per group";
    EXPECT_EQ(targets[2].state->reason(), "registration in progress");
}

TEST(RuntimeBuilder, AVerdictMeansNothingToAnUncheckedGroup) {
    RuntimeBuilder builder;
    builder.carried_health["g\n10.0.0.1:80"] = {TargetHealth::unhealthy, 0};
    WorkerSnapshot snapshot;
    testing::build_snapshot(builder, testing::one_group_yaml("{ address: 10.0.0.1, port: 80 }"), snapshot);
    EXPECT_EQ(snapshot.runtime->groups[0]->targets[0].state->health.load(), TargetHealth::unused);
}

}  // namespace
}  // namespace lb

// tls_churn: HTTPS connection churn for tools/bench (tls-resumed).
//
//   tls_churn --port P [--connections 64] [--duration 10] [--path /]
//
// Keeps --connections exchanges in flight on 127.0.0.1:P. Each opens a TCP
// connection, does a TLS handshake resuming the session its previous
// connection was given (a ticket), sends one GET with Connection: close,
// reads the response (its Content-Length), closes and starts again. Prints
// one JSON line: requests, seconds, errors, resumed, and latency percentiles
// of the whole exchange, from connect() to the response's last byte
// (p50_us, p90_us, p99_us), and of the part after the handshake
// (after_handshake_p50_us, after_handshake_p99_us).
//
// Why not wrk: wrk starts its clock when it writes the request, after the
// handshake, so the time a connection waits in the proxy's accept queue and
// in its handshake is not in wrk's latency. A proxy that accepts one
// connection per loop turn (nginx's multi_accept off) keeps most connections
// waiting there under this load and shows a short wrk latency for a longer
// exchange. A user who opens a connection per request waits for all of it.
//
// Plain sockets, epoll and OpenSSL, one thread: a load generator, not part
// of lb.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "tls_churn: %s: %s\n", what, std::strerror(errno));
    std::exit(1);
}

int64_t micros(Clock::duration duration) {
    return std::chrono::duration_cast<std::chrono::microseconds>(duration).count();
}

struct Exchange {
    enum class Phase { Handshake, Request, Response };
    int fd = -1;
    SSL* ssl = nullptr;
    SSL_SESSION* session = nullptr;  // the ticket the next connection resumes
    Phase phase = Phase::Handshake;
    uint32_t interest = 0;           // epoll events registered for fd
    Clock::time_point started, requested;
    std::string response;
};

class Churn {
public:
    Churn(int port, int connections, std::string path) : exchanges_(static_cast<size_t>(connections)) {
        address_.sin_family = AF_INET;
        address_.sin_port = htons(static_cast<uint16_t>(port));
        address_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        request_ = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                   "\r\nConnection: close\r\n\r\n";
        ctx_ = SSL_CTX_new(TLS_client_method());
        if (ctx_ == nullptr) die("SSL_CTX_new");
        SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
        SSL_CTX_set_options(ctx_, SSL_OP_IGNORE_UNEXPECTED_EOF);
        epoll_ = epoll_create1(0);
        if (epoll_ < 0) die("epoll_create1");
    }

    int run(double duration) {
        const auto start = Clock::now();
        const auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(duration));
        for (size_t i = 0; i < exchanges_.size(); ++i) begin(i);
        std::array<epoll_event, 256> events;
        while (Clock::now() < end) {
            int ready = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), 20);
            if (ready < 0 && errno != EINTR) die("epoll_wait");
            for (int i = 0; i < std::max(ready, 0); ++i) drive(events[i].data.u64);
        }
        double seconds = std::chrono::duration<double>(Clock::now() - start).count();
        std::sort(whole_.begin(), whole_.end());
        std::sort(after_handshake_.begin(), after_handshake_.end());
        std::printf("{\"requests\": %zu, \"seconds\": %.3f, \"errors\": %llu, \"resumed\": %llu, "
                    "\"p50_us\": %lld, \"p90_us\": %lld, \"p99_us\": %lld, "
                    "\"after_handshake_p50_us\": %lld, \"after_handshake_p99_us\": %lld}\n",
                    whole_.size(), seconds, errors_, resumed_, percentile(whole_, 0.5),
                    percentile(whole_, 0.9), percentile(whole_, 0.99), percentile(after_handshake_, 0.5),
                    percentile(after_handshake_, 0.99));
        if (!first_error_.empty()) std::fprintf(stderr, "tls_churn: first error: %s\n", first_error_.c_str());
        return 0;
    }

private:
    static long long percentile(const std::vector<int64_t>& sorted, double fraction) {
        if (sorted.empty()) return 0;
        size_t index = std::min(sorted.size() - 1, static_cast<size_t>(fraction * static_cast<double>(sorted.size())));
        return static_cast<long long>(sorted[index]);
    }

    void begin(size_t index) {
        Exchange& exchange = exchanges_[index];
        exchange.started = Clock::now();
        exchange.phase = Exchange::Phase::Handshake;
        exchange.response.clear();
        exchange.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (exchange.fd < 0) die("socket");
        int one = 1;
        setsockopt(exchange.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (::connect(exchange.fd, reinterpret_cast<sockaddr*>(&address_), sizeof(address_)) != 0 &&
            errno != EINPROGRESS)
            die("connect");
        exchange.ssl = SSL_new(ctx_);
        if (exchange.ssl == nullptr) die("SSL_new");
        SSL_set_fd(exchange.ssl, exchange.fd);
        SSL_set_connect_state(exchange.ssl);
        if (exchange.session != nullptr) SSL_set_session(exchange.ssl, exchange.session);
        // The handshake starts when the connection is writable.
        exchange.interest = EPOLLOUT;
        epoll_event event{};
        event.events = exchange.interest;
        event.data.u64 = index;
        if (epoll_ctl(epoll_, EPOLL_CTL_ADD, exchange.fd, &event) != 0) die("epoll_ctl");
    }

    // Waits for what OpenSSL asked for; false when the exchange failed.
    bool wait_for(size_t index, int result) {
        Exchange& exchange = exchanges_[index];
        uint32_t interest = 0;
        switch (SSL_get_error(exchange.ssl, result)) {
            case SSL_ERROR_WANT_READ: interest = EPOLLIN; break;
            case SSL_ERROR_WANT_WRITE: interest = EPOLLOUT; break;
            default: return false;
        }
        if (interest != exchange.interest) {
            exchange.interest = interest;
            epoll_event event{};
            event.events = interest;
            event.data.u64 = index;
            if (epoll_ctl(epoll_, EPOLL_CTL_MOD, exchange.fd, &event) != 0) die("epoll_ctl");
        }
        return true;
    }

    void drive(size_t index) {
        Exchange& exchange = exchanges_[index];
        if (exchange.phase == Exchange::Phase::Handshake) {
            int result = SSL_do_handshake(exchange.ssl);
            if (result != 1) {
                if (!wait_for(index, result)) fail(index, "handshake");
                return;
            }
            if (SSL_session_reused(exchange.ssl)) ++resumed_;
            exchange.phase = Exchange::Phase::Request;
            exchange.requested = Clock::now();
        }
        if (exchange.phase == Exchange::Phase::Request) {
            int result = SSL_write(exchange.ssl, request_.data(), static_cast<int>(request_.size()));
            if (result <= 0) {
                if (!wait_for(index, result)) fail(index, "write");
                return;
            }
            exchange.phase = Exchange::Phase::Response;
        }
        char buffer[16384];
        for (;;) {
            int result = SSL_read(exchange.ssl, buffer, sizeof(buffer));
            if (result <= 0) {
                if (!wait_for(index, result)) fail(index, "the response ended early");
                return;
            }
            exchange.response.append(buffer, static_cast<size_t>(result));
            switch (response_state(exchange.response)) {
                case State::Partial: continue;
                case State::Bad: fail(index, "not a 200 response with a Content-Length"); return;
                case State::Complete: complete(index); return;
            }
        }
    }

    enum class State { Partial, Complete, Bad };

    static State response_state(const std::string& response) {
        size_t head_end = response.find("\r\n\r\n");
        if (head_end == std::string::npos) return State::Partial;
        if (response.compare(0, 12, "HTTP/1.1 200") != 0) return State::Bad;
        std::string head = response.substr(0, head_end);
        std::transform(head.begin(), head.end(), head.begin(), [](unsigned char c) { return std::tolower(c); });
        size_t field = head.find("\r\ncontent-length:");
        if (field == std::string::npos) return State::Bad;
        size_t length = std::strtoul(head.c_str() + field + 17, nullptr, 10);
        return response.size() >= head_end + 4 + length ? State::Complete : State::Partial;
    }

    void complete(size_t index) {
        Exchange& exchange = exchanges_[index];
        auto now = Clock::now();
        whole_.push_back(micros(now - exchange.started));
        after_handshake_.push_back(micros(now - exchange.requested));
        // The ticket the proxy sent on this connection (TLS 1.3 sends it
        // after the handshake, before the response) is the next one's.
        SSL_SESSION* session = SSL_get1_session(exchange.ssl);
        if (session != nullptr && SSL_SESSION_is_resumable(session)) {
            if (exchange.session != nullptr) SSL_SESSION_free(exchange.session);
            exchange.session = session;
        } else if (session != nullptr) {
            SSL_SESSION_free(session);
        }
        SSL_shutdown(exchange.ssl);
        restart(index);
    }

    void fail(size_t index, const char* what) {
        ++errors_;
        if (first_error_.empty()) {
            char detail[256] = "";
            ERR_error_string_n(ERR_peek_last_error(), detail, sizeof(detail));
            first_error_ = std::string(what) + " (" + detail + ", errno " + std::strerror(errno) + ")";
        }
        ERR_clear_error();
        restart(index);
    }

    void restart(size_t index) {
        Exchange& exchange = exchanges_[index];
        SSL_free(exchange.ssl);
        exchange.ssl = nullptr;
        ::close(exchange.fd);  // also leaves the epoll set
        begin(index);
    }

    sockaddr_in address_{};
    std::string request_;
    SSL_CTX* ctx_ = nullptr;
    int epoll_ = -1;
    std::vector<Exchange> exchanges_;
    std::vector<int64_t> whole_, after_handshake_;
    unsigned long long errors_ = 0, resumed_ = 0;
    std::string first_error_;
};

}  // namespace

int main(int argc, char** argv) {
    int port = 0, connections = 64;
    double duration = 10;
    std::string path = "/";
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string option = argv[i];
        const char* value = argv[i + 1];
        if (option == "--port") port = std::atoi(value);
        else if (option == "--connections") connections = std::atoi(value);
        else if (option == "--duration") duration = std::atof(value);
        else if (option == "--path") path = value;
        else {
            std::fprintf(stderr, "tls_churn: unknown option %s\n", option.c_str());
            return 2;
        }
    }
    if (port <= 0 || port > 65535 || connections < 1 || duration <= 0 || path.empty() || path[0] != '/') {
        std::fprintf(stderr, "usage: tls_churn --port P [--connections N] [--duration S] [--path /...]\n");
        return 2;
    }
    return Churn(port, connections, path).run(duration);
}

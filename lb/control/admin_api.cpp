#include "lb/control/admin_api.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "lb/base/log.h"
#include "lb/http/http_head.h"
#include "lb/http/http_parser.h"
#include "lb/io/accept_loop.h"
#include "lb/io/listen_socket.h"
#include "lb/io/tcp_stream.h"

namespace lb {

using nlohmann::json;

namespace {

constexpr size_t kMaxConnections = 64;
constexpr uint64_t kMaxHeaderBytes = 16 * 1024;
constexpr size_t kMaxBodyBytes = 64 * 1024;
// Anyone who can reach the address can open a connection, token or not, so
// a connection that has not yet made an authorised request gets little
// time: its first byte within 2 s, its request within 5 s, and 2 s of
// keep-alive. One that has (a client of the API) gets 10 s per request and
// 30 s of keep-alive.
constexpr int64_t kFirstByteMs = 2000;
constexpr int64_t kUnprovenRequestMs = 5000;
constexpr int64_t kUnprovenIdleMs = 2000;
constexpr int64_t kRequestMs = 10000;
constexpr int64_t kIdleMs = 30000;

}  // namespace

// ---------------------------------------------------------------- one connection

class AdminConnection final : public Retirable, private StreamHandler, private HttpParserSink {
public:
    AdminConnection(AdminApi& api, std::unique_ptr<Stream> stream, uint64_t serial)
        : api_(api),
          settings_(api.settings_generation_),
          serial_(serial),
          stream_(std::move(stream)),
          parser_(HttpParser::Kind::request, this, kMaxHeaderBytes),
          deadline_([this] { close(CloseMode::abort); }) {}

    void start() {
        stream_->set_handler(this);
        stream_->start_reading();
        api_.loop_.timers().schedule(deadline_, kFirstByteMs);
    }

    // Made an authorised request: a client of the API, not just anyone.
    bool proven() const { return proven_; }
    // Between requests (a connection in the middle of one is not evicted
    // while a proven one can be).
    bool idle() const { return !in_request_; }
    uint64_t serial() const { return serial_; }  // accept order

    // lb is stopping: a connection between requests closes now; one in the
    // middle of a request, or accepted and not yet asked anything (a client
    // that connected just before the stop, or just before a binary upgrade
    // handed the socket on), gets its answer first, within its deadline.
    void drain() {
        if (in_request_ || !answered_) {
            draining_ = true;
            return;
        }
        close(CloseMode::graceful);
    }

    void close(CloseMode mode) {
        if (closing_) return;
        closing_ = true;
        api_.loop_.timers().cancel(deadline_);
        Stream::close(std::move(stream_), mode);
        api_.connection_closed(this);
        api_.loop_.retire(this);
    }

private:
    void on_stream_connected(Stream&, int) override {}
    void on_stream_drained(Stream&) override {}
    void on_stream_eof(Stream&) override { close(CloseMode::graceful); }
    void on_stream_error(Stream&, int) override { close(CloseMode::abort); }

    void on_stream_data(Stream&, std::string_view data) override {
        if (closing_) return;
        if (!in_request_ && !data.empty()) {
            // One deadline for the whole request: trickling bytes does not extend it.
            in_request_ = true;
            api_.loop_.timers().schedule(deadline_, proven_ ? kRequestMs : kUnprovenRequestMs);
        }
        auto outcome = parser_.feed(data);
        if (closing_) return;
        if (outcome.status == HttpParser::Status::header_too_large)
            answer_and_close(431, error_json("request header too large"));
        else if (outcome.status == HttpParser::Status::error || outcome.status == HttpParser::Status::upgraded)
            answer_and_close(400, error_json("malformed HTTP request"));
    }

    int on_http_head(HttpHead& head) override {
        if (head.content_length && *head.content_length > kMaxBodyBytes) {
            answer_and_close(413, error_json("request body over " + std::to_string(kMaxBodyBytes) + " bytes"));
            return kError;
        }
        head_ = std::move(head);
        body_.clear();
        return kContinue;
    }

    int on_http_body(std::string_view data) override {
        if (body_.size() + data.size() > kMaxBodyBytes) {
            answer_and_close(413, error_json("request body over " + std::to_string(kMaxBodyBytes) + " bytes"));
            return kError;
        }
        body_.append(data);
        return kContinue;
    }

    int on_http_message_complete() override {
        // The admin settings (address, token, enabled) changed since this
        // connection was accepted: it was authorised under rules that no
        // longer hold, so it serves nothing more.
        if (stale()) {
            close(CloseMode::graceful);
            return kError;
        }
        if (api_.authorized(head_)) proven_ = true;
        AdminApi::Reply reply = api_.handle(head_, body_);
        if (closing_) return kError;
        // This request may itself have changed them (POST /api/v1/reload):
        // it gets its answer, then the connection ends.
        bool close_after = !head_.keep_alive || stale() || draining_;
        answered_ = true;
        if (reply.content_type)
            stream_->write(make_local_response(reply.status, reply.content_type, reply.text, close_after,
                                               reply.extra_headers, head_.method == "HEAD"));
        else
            write(reply.status, reply.body, close_after, reply.extra_headers);
        if (close_after) {
            close(CloseMode::graceful);
            return kError;
        }
        in_request_ = false;
        api_.loop_.timers().schedule(deadline_, proven_ ? kIdleMs : kUnprovenIdleMs);
        return kContinue;
    }

    void write(int status, const json& body, bool close_after, std::string_view extra_headers = {}) {
        std::string text = json_reply_text(body);
        stream_->write(make_local_response(status, "application/json", text, close_after, extra_headers,
                                           head_.method == "HEAD"));
    }

    void answer_and_close(int status, const json& body) {
        write(status, body, true);
        close(CloseMode::linger);
    }

    bool stale() const { return settings_ != api_.settings_generation_; }

    AdminApi& api_;
    uint64_t settings_;  // api_.settings_generation_ when accepted
    uint64_t serial_;
    std::unique_ptr<Stream> stream_;
    HttpParser parser_;
    HttpHead head_;
    std::string body_;
    bool closing_ = false;
    bool proven_ = false;
    bool in_request_ = false;
    bool answered_ = false;  // has answered a request
    bool draining_ = false;  // close after the answer: lb is stopping
    Timer deadline_;   // first byte, then the request, then keep-alive
};

// ---------------------------------------------------------------- listening

// One bound admin socket with its accept loop. Replaced on a reload that
// moves the address; the old one goes once its accept has ended.
struct AdminApi::Listener final : Retirable {
    AdminApi* api;
    UniqueFd fd;
    AcceptLoop accept;

    Listener(AdminApi* owner, UniqueFd socket)
        : api(owner), fd(std::move(socket)), accept(owner->loop_, fd.get(), "admin API accept", [owner](UniqueFd connection) {
              owner->on_accept(std::move(connection));
          }) {
        api->listeners_.insert(this);
    }

    void close() { accept.stop([this] { finish(); }); }

    void finish() {
        fd.reset();
        api->listeners_.erase(this);
        api->loop_.retire(this);
    }
};

AdminApi::AdminApi(EventLoop& loop, AdminControl& control) : loop_(loop), control_(control) {}

AdminApi::~AdminApi() {
    // Normally shut down and idle by now. On an early exit the loop goes
    // away without running again: close and free what is left directly.
    auto open = connections_;  // closing removes entries
    for (AdminConnection* connection : open) connection->close(CloseMode::abort);
    close_listener();
    for (Listener* listener : std::unordered_set<Listener*>(listeners_)) listener->finish();
}

Result<AdminApi::Prepared> AdminApi::prepare(const conf::Admin& config, InheritedSockets* inherited) const {
    Prepared prepared;
    prepared.enabled = config.enabled;
    if (!config.enabled) return prepared;
    prepared.address = config.listen;
    if (!config.token_file.empty()) {
        std::ifstream in(config.token_file);
        std::stringstream text;
        text << in.rdbuf();
        if (!in) return Error{"admin API: cannot read token_file " + config.token_file};
        std::string token = text.str();
        while (!token.empty() && isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
        while (!token.empty() && isspace(static_cast<unsigned char>(token.front()))) token.erase(0, 1);
        if (token.empty()) return Error{"admin API: token_file " + config.token_file + " is empty"};
        prepared.token = std::move(token);
    }
    if (!enabled_ || listener_ == nullptr || config.listen != address_) {
        if (inherited) {
            std::vector<UniqueFd> given = inherited->take(config.listen, ListenSocketSet::Kind::stream);
            if (!given.empty()) {
                auto ready = prepare_inherited_socket(given.front().get(), config.listen,
                                                      ListenSocketSet::Kind::stream, 64);
                if (!ready) return Error{"admin API: " + ready.error()};
                prepared.fd = std::move(given.front());
                return prepared;
            }
        }
        auto fd = open_listen_socket(config.listen, ListenSocketSet::Kind::stream, false, 64);
        if (!fd) return Error{"admin API: " + fd.error()};
        prepared.fd = std::move(*fd);
    }
    return prepared;
}

void AdminApi::commit(Prepared prepared) {
    if (shut_down_) return;
    bool rebind = bool(prepared.fd) || !prepared.enabled;
    if (rebind || prepared.token != token_) ++settings_generation_;
    token_ = std::move(prepared.token);
    if (rebind) close_listener();
    enabled_ = prepared.enabled;
    address_ = prepared.address;
    if (prepared.fd) {
        listener_ = new Listener(this, std::move(prepared.fd));
        listener_->accept.start();
        LB_LOG_INFO("admin API on %s%s", address_.to_string().c_str(), token_.empty() ? "" : " (bearer token)");
    }
}

int AdminApi::listening_fd() const { return listener_ ? listener_->fd.get() : -1; }

void AdminApi::close_listener() {
    if (!listener_) return;
    listener_->close();
    listener_ = nullptr;
}

void AdminApi::shutdown() {
    if (shut_down_) return;
    shut_down_ = true;
    close_listener();
    auto open = connections_;  // closing removes entries
    for (AdminConnection* connection : open) connection->drain();
}

void AdminApi::on_accept(UniqueFd fd) {
    SocketAddress peer = SocketAddress::peer_of(fd.get());
    if (!peer.valid() || (connections_.size() >= kMaxConnections && !evict_one()))
        return;
    auto* connection = new AdminConnection(*this, std::make_unique<TcpStream>(loop_, std::move(fd), peer), ++accepted_);
    connections_.insert(connection);
    connection->start();
    // Accepted in the race with shutdown(): answered, then closed.
    if (shut_down_) connection->drain();
}

// Full: the newcomer (an orchestrator's probe, the operator's reload) takes
// the place of the oldest connection that has not made an authorised
// request, else of the oldest idle one. Only when every slot is a client of
// the API in the middle of a request is the newcomer refused.
bool AdminApi::evict_one() {
    AdminConnection* victim = nullptr;
    auto rank = [](const AdminConnection* c) { return c->proven() ? (c->idle() ? 1 : 2) : 0; };
    for (AdminConnection* c : connections_) {
        if (rank(c) == 2) continue;
        if (!victim || rank(c) < rank(victim) || (rank(c) == rank(victim) && c->serial() < victim->serial()))
            victim = c;
    }
    if (!victim) return false;
    victim->close(CloseMode::abort);
    return true;
}

void AdminApi::connection_closed(AdminConnection* connection) { connections_.erase(connection); }

}  // namespace lb

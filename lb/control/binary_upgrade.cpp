#include "lb/control/binary_upgrade.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "lb/base/log.h"

extern char** environ;

namespace lb {

namespace {

constexpr const char* kFdsVariable = "LB_UPGRADE_FDS";
constexpr const char* kStateVariable = "LB_UPGRADE_STATE_FD";
constexpr const char* kReadyVariable = "LB_UPGRADE_READY_FD";
constexpr int64_t kReapEveryMs = 20;
constexpr int kReapTries = 250;  // 5 s for a failed new lb to exit after SIGKILL or EOF
constexpr int kExitGraceTries = 50;  // 1 s for one that closed its ready pipe to exit by itself

std::string hex(const unsigned char* data, size_t size) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (size_t i = 0; i < size; ++i) {
        out += digits[data[i] >> 4];
        out += digits[data[i] & 15];
    }
    return out;
}

bool unhex(std::string_view text, unsigned char* out, size_t size) {
    if (text.size() != size * 2) return false;
    auto digit = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
    };
    for (size_t i = 0; i < size; ++i) {
        int high = digit(text[2 * i]), low = digit(text[2 * i + 1]);
        if (high < 0 || low < 0) return false;
        out[i] = static_cast<unsigned char>(high * 16 + low);
    }
    return true;
}

std::optional<int> parse_fd(std::string_view text) {
    if (text.empty() || text.size() > 9) return std::nullopt;
    int fd = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        fd = fd * 10 + (c - '0');
    }
    return fd;
}

std::string describe_exit(int status) {
    if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return std::string("was killed by signal ") + strsignal(WTERMSIG(status));
    return "ended";
}

}  // namespace

// ---------------------------------------------------------------- CarriedState

std::string CarriedState::serialize() const {
    std::string out;
    for (const auto& key : ticket_keys) {
        out += "ticket-key " + std::to_string(key.epoch) + " " + hex(key.name.data(), key.name.size()) + " " +
               hex(key.aes.data(), key.aes.size()) + " " + hex(key.hmac.data(), key.hmac.size()) + "\n";
    }
    for (const auto& [id, carried] : target_health) {
        size_t newline = id.find('\n');
        out += "target-health " + std::to_string(static_cast<int>(carried.health)) + " " +
               std::to_string(carried.in_service_since_ms) + " " + id.substr(newline + 1) + " " +
               id.substr(0, newline) + "\n";
    }
    if (!sticky_secret.empty())
        out += "sticky-secret " + hex(reinterpret_cast<const unsigned char*>(sticky_secret.data()), sticky_secret.size()) +
               "\n";
    return out;
}

Result<CarriedState> CarriedState::parse(std::string_view text) {
    CarriedState state;
    std::istringstream lines{std::string(text)};
    std::string line;
    int number = 0;
    while (std::getline(lines, line)) {
        ++number;
        std::istringstream fields(line);
        std::string kind;
        fields >> kind;
        bool good = false;
        if (kind == "ticket-key") {
            tls::TicketKeys::Key key;
            std::string name, aes, hmac;
            good = bool(fields >> key.epoch >> name >> aes >> hmac) && unhex(name, key.name.data(), key.name.size()) &&
                   unhex(aes, key.aes.data(), key.aes.size()) && unhex(hmac, key.hmac.data(), key.hmac.size());
            if (good) state.ticket_keys.push_back(key);
            OPENSSL_cleanse(&key, sizeof(key));
            OPENSSL_cleanse(aes.data(), aes.size());
            OPENSSL_cleanse(hmac.data(), hmac.size());
        } else if (kind == "target-health") {
            int health = -1;
            CarriedTargetHealth carried;
            std::string key, group;
            good = bool(fields >> health >> carried.in_service_since_ms >> key) && fields.get() == ' ' &&
                   std::getline(fields, group) && !group.empty() &&
                   (health == static_cast<int>(TargetHealth::healthy) ||
                    health == static_cast<int>(TargetHealth::unhealthy));
            carried.health = static_cast<TargetHealth>(health);
            if (good) state.target_health[group + "\n" + key] = carried;
        } else if (kind == "sticky-secret") {
            std::string secret;
            good = bool(fields >> secret) && !secret.empty() && secret.size() % 2 == 0;
            if (good) {
                state.sticky_secret.resize(secret.size() / 2);
                good = unhex(secret, reinterpret_cast<unsigned char*>(state.sticky_secret.data()),
                             state.sticky_secret.size());
            }
            OPENSSL_cleanse(secret.data(), secret.size());
        }
        OPENSSL_cleanse(line.data(), line.size());
        if (!good) return Error{"line " + std::to_string(number) + " of the state the previous lb handed over is not valid"};
    }
    return state;
}

// ---------------------------------------------------------------- Handover

Result<std::optional<Handover>> Handover::from_environment() {
    const char* fds = getenv(kFdsVariable);
    const char* state_fd = getenv(kStateVariable);
    const char* ready_fd = getenv(kReadyVariable);
    if (!fds && !state_fd && !ready_fd) return std::optional<Handover>{};
    std::string fd_list = fds ? fds : "";
    std::optional<int> state = parse_fd(state_fd ? state_fd : "");
    std::optional<int> ready = parse_fd(ready_fd ? ready_fd : "");
    unsetenv(kFdsVariable);
    unsetenv(kStateVariable);
    unsetenv(kReadyVariable);
    if (!state || !ready) return Error{"binary upgrade: LB_UPGRADE_STATE_FD and LB_UPGRADE_READY_FD must name descriptors"};

    Handover handover;
    handover.ready_.reset(*ready);
    fcntl(*ready, F_SETFD, FD_CLOEXEC);
    std::string_view rest = fd_list;
    while (!rest.empty()) {
        size_t comma = rest.find(',');
        auto fd = parse_fd(rest.substr(0, comma));
        if (!fd) return Error{"binary upgrade: LB_UPGRADE_FDS is not a list of descriptors: " + fd_list};
        handover.sockets.push_back(*fd);
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    }

    UniqueFd state_file(*state);
    std::string text;
    char chunk[4096];
    ssize_t got;
    while ((got = pread(state_file.get(), chunk, sizeof(chunk), static_cast<off_t>(text.size()))) > 0)
        text.append(chunk, static_cast<size_t>(got));
    OPENSSL_cleanse(chunk, sizeof(chunk));
    if (got < 0) return Error{std::string("binary upgrade: reading the handed-over state: ") + strerror(errno)};
    auto parsed = CarriedState::parse(text);
    OPENSSL_cleanse(text.data(), text.size());
    if (!parsed) return Error{"binary upgrade: " + parsed.error()};
    handover.state = std::move(*parsed);
    return std::optional<Handover>(std::move(handover));
}

void Handover::report_ready() {
    if (!ready_) return;
    std::string message = "ready " + std::to_string(getpid()) + "\n";
    // A pipe write this small is atomic; if the old lb is gone, EPIPE
    // (SIGPIPE is ignored) changes nothing here.
    if (write(ready_.get(), message.data(), message.size()) < 0) LB_LOG_WARN("binary upgrade: telling the previous lb: %s", strerror(errno));
    ready_.reset();
}

// ---------------------------------------------------------------- BinaryUpgrade

BinaryUpgrade::BinaryUpgrade(EventLoop& loop, Callbacks callbacks)
    : loop_(loop),
      callbacks_(std::move(callbacks)),
      deadline_([this] { timed_out(); }),
      reap_timer_([this] { reap(); }) {}

BinaryUpgrade::~BinaryUpgrade() {
    loop_.timers().cancel(deadline_);
    loop_.timers().cancel(reap_timer_);
    if (reaping_ && !killed_) kill(pid_, SIGKILL);
}

Status BinaryUpgrade::start(const Request& request) {
    if (in_progress()) return Error{"an upgrade to pid " + std::to_string(pid_) + " is already under way"};
    if (read_pending_ || reaping_) return Error{"the previous attempt is still being cleaned up; try again"};
    if (access(request.executable.c_str(), X_OK) != 0)
        return Error{"cannot run " + request.executable + ": " + strerror(errno)};

    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) return Error{std::string("pipe: ") + strerror(errno)};
    UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
    UniqueFd state(memfd_create("lb-upgrade-state", MFD_CLOEXEC));
    if (!state) return Error{std::string("memfd_create: ") + strerror(errno)};
    std::string text = request.state.serialize();
    bool written = write(state.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size());
    OPENSSL_cleanse(text.data(), text.size());
    if (!written) return Error{std::string("writing the state to hand over: ") + strerror(errno)};

    // Everything the child needs is built before fork: after it, only
    // async-signal-safe calls until execve.
    std::string fd_list;
    for (int fd : request.sockets) fd_list += (fd_list.empty() ? "" : ",") + std::to_string(fd);
    std::vector<std::string> environment;
    for (char** entry = environ; *entry; ++entry) {
        std::string_view text_entry(*entry);
        if (text_entry.starts_with("LB_UPGRADE_")) continue;
        environment.emplace_back(text_entry);
    }
    environment.push_back(std::string(kFdsVariable) + "=" + fd_list);
    environment.push_back(std::string(kStateVariable) + "=" + std::to_string(state.get()));
    environment.push_back(std::string(kReadyVariable) + "=" + std::to_string(write_end.get()));
    std::vector<char*> envp, argv;
    for (auto& entry : environment) envp.push_back(entry.data());
    envp.push_back(nullptr);
    std::vector<std::string> arguments = request.arguments;
    for (auto& argument : arguments) argv.push_back(argument.data());
    argv.push_back(nullptr);
    std::vector<int> inherited = request.sockets;
    inherited.push_back(state.get());
    inherited.push_back(write_end.get());

    pid_t pid = fork();
    if (pid < 0) return Error{std::string("fork: ") + strerror(errno)};
    if (pid == 0) {
        for (int fd : inherited) fcntl(fd, F_SETFD, 0);
        // What this process set for itself is not the new one's business.
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        signal(SIGPIPE, SIG_DFL);
        execve(request.executable.c_str(), argv.data(), envp.data());
        _exit(127);
    }
    pid_ = pid;
    done_ = false;
    received_.clear();
    reap_tries_ = 0;
    ready_pipe_ = std::move(read_end);  // write_end closes here: EOF once the child's copy goes
    arm_read();
    loop_.timers().schedule(deadline_, request.timeout_ms);
    return Ok{};
}

void BinaryUpgrade::arm_read() {
    io_uring_prep_read(loop_.sqe_for(&read_completion_), ready_pipe_.get(), buffer_, sizeof(buffer_), 0);
    read_pending_ = true;
}

void BinaryUpgrade::on_read(int result, uint32_t) {
    read_pending_ = false;
    if (done_) return;
    if (result > 0) {
        received_.append(buffer_, static_cast<size_t>(result));
        if (received_.find('\n') == std::string::npos && received_.size() < 256) {
            arm_read();
            return;
        }
        if (received_.starts_with("ready ")) {
            done_ = true;
            loop_.timers().cancel(deadline_);
            ready_pipe_.reset();
            callbacks_.ready(pid_);
            return;
        }
        fail("it said '" + received_.substr(0, received_.find('\n')) + "' instead of ready");
        return;
    }
    if (result == 0) fail("it ended before it was ready (see its messages above)", /*exiting=*/true);
    else fail(std::string("reading its ready pipe: ") + strerror(-result));
}

void BinaryUpgrade::timed_out() {
    if (done_) return;
    fail("it was not ready within upgrade_timeout");
}

void BinaryUpgrade::fail(const std::string& why, bool exiting) {
    done_ = true;
    loop_.timers().cancel(deadline_);
    if (read_pending_) loop_.cancel(read_completion_);
    // It has accepted nothing (a new lb accepts only once ready), so
    // nothing is lost by ending it; its sockets are ours too. One that
    // closed its ready pipe is exiting (a rejected config): it gets a moment
    // to do so by itself, so that its exit status (and whatever it still
    // writes, a sanitizer's report) is its own rather than SIGKILL's.
    killed_ = !exiting;
    if (killed_) kill(pid_, SIGKILL);
    reaping_ = true;
    callbacks_.failed("the new lb (pid " + std::to_string(pid_) + ") failed: " + why);
    reap();
}

void BinaryUpgrade::reap() {
    int status = 0;
    pid_t got = waitpid(pid_, &status, WNOHANG);
    if (got == pid_) {
        LB_LOG_INFO("binary upgrade: the new lb (pid %d) %s", static_cast<int>(pid_), describe_exit(status).c_str());
        ready_pipe_.reset();
        reaping_ = false;
        return;
    }
    ++reap_tries_;
    if (got == 0 && !killed_ && reap_tries_ >= kExitGraceTries) {
        // It closed its ready pipe but lives on: ended as any failed one.
        kill(pid_, SIGKILL);
        killed_ = true;
        reap_tries_ = 0;
    }
    if (got < 0 || reap_tries_ > kReapTries) {
        ready_pipe_.reset();
        reaping_ = false;
        return;
    }
    loop_.timers().schedule(reap_timer_, kReapEveryMs);
}

}  // namespace lb

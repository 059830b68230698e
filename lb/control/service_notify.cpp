#include "lb/control/service_notify.h"

#include <systemd/sd-daemon.h>

#include <ctime>

namespace lb::service {

namespace {

// STATUS= ends at a newline: a summary with one would end the message early.
std::string one_line(std::string text) {
    for (char& c : text)
        if (c == '\n' || c == '\r') c = ' ';
    return text;
}

uint64_t monotonic_usec() {
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<uint64_t>(now.tv_sec) * 1000000u + static_cast<uint64_t>(now.tv_nsec) / 1000u;
}

}  // namespace

void ready(const std::string& status) {
    sd_notifyf(0, "READY=1\nSTATUS=%s", one_line(status).c_str());
}

// systemd 253 wants MONOTONIC_USEC with RELOADING=1 (Type=notify-reload);
// earlier ones ignore it.
void reloading() {
    sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
               static_cast<unsigned long long>(monotonic_usec()));
}

void status(const std::string& status) { sd_notifyf(0, "STATUS=%s", one_line(status).c_str()); }

void stopping() { sd_notify(0, "STOPPING=1\nSTATUS=stopping"); }

void handed_over(pid_t pid, const std::string& status) {
    sd_notifyf(0, "MAINPID=%lu\nREADY=1\nSTATUS=%s", static_cast<unsigned long>(pid), one_line(status).c_str());
}

std::vector<int> activation_sockets() {
    int count = sd_listen_fds(1);
    std::vector<int> fds;
    for (int i = 0; i < count; ++i) fds.push_back(SD_LISTEN_FDS_START + i);
    return fds;
}

}  // namespace lb::service

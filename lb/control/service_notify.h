// The service manager's view of lb (systemd Type=notify, sd_notify(3)):
// READY=1 once lb serves (Server says when), RELOADING=1 around a reload,
// STOPPING=1 at a stop, STATUS= a one-line summary, MAINPID= when a binary
// upgrade hands the service to the new process. Every call does nothing
// when lb was not started with NOTIFY_SOCKET, so lb behaves the same
// without systemd.
//
// Threading: main thread.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace lb::service {

void ready(const std::string& status);
void reloading();
void status(const std::string& status);
void stopping();
// The old process of a binary upgrade, once the new one is ready: the
// service is now `pid`'s (systemd's NotifyAccess=main then accepts its
// messages, and the old one says nothing more).
void handed_over(pid_t pid, const std::string& status);
// Socket activation: the descriptors systemd passed (LISTEN_FDS for this
// pid), which then belong to the caller; LISTEN_* are removed from the
// environment so a binary upgrade's child does not see them.
std::vector<int> activation_sockets();

}  // namespace lb::service

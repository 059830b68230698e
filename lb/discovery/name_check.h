// The names a config uses that do not resolve now, for `lb -t`: a warning
// each, never an error (lb starts without them and follows them once they
// resolve, README "Targets by DNS name"). Looks them up once, all at once,
// on an event loop of its own, waiting at most the resolver's timeout times
// its attempts per server.
//
// Threading: the calling thread, which must not be running another loop.
#pragma once

#include <string>
#include <vector>

#include "conf/config.h"

namespace lb {

// One line per name: "target group web: app.internal (A/AAAA): no such name".
std::vector<std::string> unresolved_names(const conf::Config& config);

}  // namespace lb

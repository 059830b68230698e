#include "lb/worker/session.h"

#include "lb/worker/worker.h"

namespace lb {

Session::Session(Worker& worker) : worker_(worker) { worker_.add_session(this); }

Session::~Session() {
    if (!retired_) worker_.remove_session(this);
}

void Session::retire() {
    if (retired_) return;
    retired_ = true;
    worker_.remove_session(this);
    worker_.loop().retire(this);
}

}  // namespace lb

#include "lb/worker/upstream_connector.h"

#include "lb/io/tcp_stream.h"
#include "lb/worker/upstream_pool.h"
#include "tls/tls_stream.h"

namespace lb {

std::unique_ptr<Stream> WorkerUpstreams::take_idle(const TargetState& target, bool tls) {
    std::unique_ptr<Stream> stream = pool_.take(&target);
    if (stream && tls != (dynamic_cast<tls::TlsStream*>(stream.get()) != nullptr)) {
        // Pooled before a reload switched the group between http and https.
        Stream::close(std::move(stream), CloseMode::abort);
    }
    return stream;
}

std::unique_ptr<Stream> WorkerUpstreams::connect(const SocketAddress& to, int64_t timeout_ms, int receive_buffer,
                                                 const std::shared_ptr<const tls::ClientContext>& tls,
                                                 StreamHandler* handler) {
    if (tls) return tls::TlsStream::connect(loop_, to, timeout_ms, tls, handler, receive_buffer);
    return TcpStream::connect(loop_, to, timeout_ms, handler, receive_buffer);
}

void WorkerUpstreams::put_idle(std::shared_ptr<TargetState> target, std::unique_ptr<Stream> stream) {
    pool_.put(std::move(target), std::move(stream));
}

}  // namespace lb

// HttpHistograms: the distributions /metrics shows for the HTTP exchanges of
// one listener or one target group (lb/control/metrics.cpp). Observed once
// per exchange by the worker that ran it (listeners/http_exchange.cpp),
// each worker into its own shard.
#pragma once

#include "lb/base/histogram.h"

namespace lb {

struct HttpHistograms {
    // µs from the request's first byte to the end of its answer.
    Histogram duration{kDurationBucketsUs, kHistogramShards};
    // µs to open a new connection to a target (TCP, and TLS for https
    // targets); a pooled connection observes nothing.
    Histogram connect{kDurationBucketsUs, kHistogramShards};
    // µs from the request's first byte to the target's first response byte.
    Histogram first_byte{kDurationBucketsUs, kHistogramShards};
    // Bytes of the request (head and body) and of the response (head and
    // body) as the client sent and received them.
    Histogram request_size{kSizeBucketsBytes, kHistogramShards};
    Histogram response_size{kSizeBucketsBytes, kHistogramShards};
};

}  // namespace lb

// The name of every enum value a config can hold, in one table per enum:
// the loader reads them (choose() in conf/loader.h) and to_string() in
// conf/config.h prints them, so the two can never disagree.
#pragma once

#include <cstddef>
#include <string_view>

#include "conf/config.h"

namespace lb::conf {

template <class E>
struct EnumName {
    std::string_view name;  // a literal: NUL-terminated
    E value;
};

inline constexpr EnumName<ListenerProtocol> kListenerProtocolNames[] = {
    {"http", ListenerProtocol::http},
    {"https", ListenerProtocol::https},
    {"tcp", ListenerProtocol::tcp},
    {"tls_passthrough", ListenerProtocol::tls_passthrough},
    {"udp", ListenerProtocol::udp},
};

inline constexpr EnumName<TargetProtocol> kTargetProtocolNames[] = {
    {"http", TargetProtocol::http},
    {"https", TargetProtocol::https},
    {"tcp", TargetProtocol::tcp},
    {"udp", TargetProtocol::udp},
};

inline constexpr EnumName<Algorithm> kAlgorithmNames[] = {
    {"round_robin", Algorithm::round_robin},
    {"least_outstanding_requests", Algorithm::least_outstanding_requests},
    {"least_connections", Algorithm::least_connections},
    {"weighted_random", Algorithm::weighted_random},
    {"source_ip_hash", Algorithm::source_ip_hash},
    {"hash", Algorithm::hash},
};

inline constexpr EnumName<HealthCheck::Protocol> kHealthCheckProtocolNames[] = {
    {"http", HealthCheck::Protocol::http},
    {"https", HealthCheck::Protocol::https},
    {"tcp", HealthCheck::Protocol::tcp},
};

// `none` is the absence of the block, not a name a config can give.
inline constexpr EnumName<Stickiness::Type> kStickinessTypeNames[] = {
    {"lb_cookie", Stickiness::Type::lb_cookie},
    {"app_cookie", Stickiness::Type::app_cookie},
    {"source_ip", Stickiness::Type::source_ip},
};

inline constexpr EnumName<ProxyProtocol> kProxyProtocolNames[] = {
    {"v1", ProxyProtocol::v1},
    {"v2", ProxyProtocol::v2},
    {"none", ProxyProtocol::none},
};

inline constexpr EnumName<RequestIdTrust> kRequestIdTrustNames[] = {
    {"none", RequestIdTrust::none},
    {"trusted_proxies", RequestIdTrust::trusted_proxies},
    {"all", RequestIdTrust::all},
};

inline constexpr EnumName<TraceContext> kTraceContextNames[] = {
    {"pass", TraceContext::pass},
    {"start", TraceContext::start},
};

inline constexpr EnumName<AccessLogFormat> kAccessLogFormatNames[] = {
    {"json", AccessLogFormat::json},
    {"combined", AccessLogFormat::combined},
    {"template", AccessLogFormat::text_template},
    {"off", AccessLogFormat::off},
};

// path_normalization.forward: whether the target gets the normalized path.
inline constexpr EnumName<bool> kPathForwardNames[] = {
    {"normalized", true},
    {"original", false},
};

// `http2:` takes a boolean or prior_knowledge; these are its spellings.
inline constexpr EnumName<Http2Mode> kHttp2ModeNames[] = {
    {"true", Http2Mode::on},
    {"false", Http2Mode::off},
    {"prior_knowledge", Http2Mode::prior_knowledge},
};

template <class E, size_t N>
constexpr const char* name_of(const EnumName<E> (&names)[N], E value) {
    for (const auto& entry : names)
        if (entry.value == value) return entry.name.data();
    return "unknown";
}

}  // namespace lb::conf

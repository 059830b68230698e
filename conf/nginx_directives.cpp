// What each nginx directive that the importer's code does not map becomes:
// "ignored" (lb already behaves so, or it means nothing for a proxy that
// serves no files) or "not supported" with what to do instead. A directive
// in neither list and not mapped is reported as not supported.
#include <map>
#include <set>
#include <string_view>

#include "conf/nginx_importer.h"

namespace lb::conf::nginx {

namespace {

enum class Treatment { mapped, ignored_default, ignored, unsupported };

struct Entry {
    Treatment treatment;
    const char* why;
};

// Directives the importer's code reads, per context. They are reported by
// that code when they are not mapped exactly.
const std::map<Context, std::set<std::string_view>>& mapped() {
    static const std::map<Context, std::set<std::string_view>> table{
        {Context::main, {"http", "stream", "events", "worker_processes", "worker_shutdown_timeout"}},
        {Context::events, {}},
        {Context::http,
         {"server", "upstream", "map", "client_max_body_size", "keepalive_timeout", "client_header_timeout",
          "proxy_connect_timeout", "proxy_read_timeout", "proxy_send_timeout", "set_real_ip_from", "real_ip_header",
          "real_ip_recursive", "proxy_next_upstream", "proxy_next_upstream_tries", "proxy_next_upstream_timeout",
          "ssl_certificate", "ssl_certificate_key", "ssl_protocols", "ssl_ciphers", "proxy_set_header", "add_header",
          "proxy_hide_header", "allow", "deny", "proxy_ssl_verify", "proxy_ssl_trusted_certificate", "proxy_ssl_name",
          "proxy_ssl_server_name", "default_type", "access_log", "log_format", "http2", "http2_max_concurrent_streams",
          "large_client_header_buffers", "proxy_http_version", "proxy_redirect", "resolver", "root", "index"}},
        {Context::server,
         {"listen", "server_name", "location", "return", "ssl", "client_max_body_size", "keepalive_timeout",
          "client_header_timeout", "proxy_connect_timeout", "proxy_read_timeout", "proxy_send_timeout",
          "set_real_ip_from", "real_ip_header", "real_ip_recursive", "proxy_next_upstream", "proxy_next_upstream_tries",
          "proxy_next_upstream_timeout", "ssl_certificate", "ssl_certificate_key", "ssl_protocols", "ssl_ciphers",
          "proxy_set_header", "add_header", "proxy_hide_header", "allow", "deny", "proxy_ssl_verify",
          "proxy_ssl_trusted_certificate", "proxy_ssl_name", "proxy_ssl_server_name", "default_type", "access_log",
          "http2", "http2_max_concurrent_streams", "large_client_header_buffers", "proxy_http_version",
          "proxy_redirect", "root", "index", "if", "rewrite"}},
        {Context::location,
         {"proxy_pass", "return", "location", "client_max_body_size", "keepalive_timeout", "proxy_connect_timeout",
          "proxy_read_timeout", "proxy_send_timeout", "proxy_next_upstream", "proxy_next_upstream_tries",
          "proxy_next_upstream_timeout", "proxy_set_header", "add_header", "proxy_hide_header", "allow", "deny",
          "proxy_ssl_verify", "proxy_ssl_trusted_certificate", "proxy_ssl_name", "proxy_ssl_server_name",
          "default_type", "access_log", "proxy_http_version", "proxy_redirect", "root", "index", "try_files", "alias",
          "if", "rewrite", "set_real_ip_from", "real_ip_header", "real_ip_recursive"}},
        {Context::upstream, {"server", "ip_hash", "hash", "least_conn", "random"}},
        {Context::stream, {"server", "upstream", "map", "proxy_connect_timeout", "proxy_timeout", "proxy_next_upstream",
                           "proxy_next_upstream_tries", "proxy_next_upstream_timeout", "proxy_protocol",
                           "set_real_ip_from", "access_log", "log_format", "preread_timeout", "resolver"}},
        {Context::stream_server,
         {"listen", "proxy_pass", "proxy_protocol", "ssl_preread", "proxy_timeout", "proxy_connect_timeout",
          "proxy_next_upstream", "proxy_next_upstream_tries", "proxy_next_upstream_timeout", "set_real_ip_from",
          "allow", "deny", "preread_timeout", "access_log"}},
        {Context::stream_upstream, {"server", "hash", "least_conn", "random"}},
    };
    return table;
}

const std::map<std::string_view, Entry>& others() {
    constexpr auto def = Treatment::ignored_default;
    constexpr auto ign = Treatment::ignored;
    constexpr auto uns = Treatment::unsupported;
    static const char* no_files = "lb serves no files, so this has no effect on what it proxies";
    static const char* buffers = "lb streams bodies both ways with back-pressure and has no buffer settings";
    static const char* no_cache = "lb does not cache responses; keep a cache in front of or behind lb";
    static const char* no_compress = "lb does not compress responses; let the targets compress them";
    static const char* scripting = "lb has no request scripting; route with rules (host, path, header, query, source_ip)";
    static const char* other_proto = "lb forwards HTTP and HTTPS only; put that server behind an HTTP gateway";
    static const std::map<std::string_view, Entry> table{
        // main and events
        {"user", {uns, "lb runs as the user that starts it: run it as an unprivileged user (systemd User=, with "
                       "AmbientCapabilities=CAP_NET_BIND_SERVICE for ports below 1024)"}},
        {"pid", {ign, "lb's own pid file is global.pid_file (not set, so lb and nginx can run side by side)"}},
        {"error_log", {ign, "lb writes its error log to stderr (journald under systemd)"}},
        {"worker_rlimit_nofile", {def, nullptr}},
        {"worker_connections", {ign, "lb limits client connections with global.max_connections (default 100000)"}},
        {"use", {ign, "lb uses io_uring"}},
        {"multi_accept", {ign, "lb accepts with multishot io_uring accepts"}},
        {"accept_mutex", {ign, "lb's workers share each port with SO_REUSEPORT"}},
        {"worker_cpu_affinity", {ign, "lb has no CPU pinning setting"}},
        {"worker_priority", {ign, "lb has no priority setting (use nice or systemd Nice=)"}},
        {"daemon", {ign, "lb runs in the foreground (run it under systemd)"}},
        {"master_process", {ign, "lb is one process"}},
        {"load_module", {ign, "lb has no modules"}},
        {"pcre_jit", {ign, "lb has no regexes"}},
        {"timer_resolution", {ign, "lb has no such setting"}},
        {"thread_pool", {ign, no_files}},
        {"env", {ign, "lb reads no environment variables from its config"}},
        {"lock_file", {ign, "lb has no lock file"}},
        {"working_directory", {ign, "lb has no such setting"}},
        {"mail", {uns, "lb does not proxy mail protocols; a tcp listener can pass them through"}},
        // connections and timeouts
        {"keepalive_requests", {ign, "lb has no per-connection request limit"}},
        {"keepalive_time", {ign, "lb has no limit on a keep-alive connection's age"}},
        {"keepalive_disable", {ign, "lb keeps every client's connection alive"}},
        {"lingering_close", {ign, "lb closes connections in its own way (see the README)"}},
        {"lingering_time", {ign, "lb closes connections in its own way (see the README)"}},
        {"lingering_timeout", {ign, "lb closes connections in its own way (see the README)"}},
        {"reset_timedout_connection", {ign, "lb has no such setting"}},
        {"send_timeout", {uns, "lb has no timeout for a client that stops reading; idle_timeout closes idle connections"}},
        {"client_body_timeout", {uns, "lb has no request body timeout; idle_timeout closes idle connections"}},
        {"tcp_nodelay", {def, nullptr}},
        {"tcp_nopush", {ign, no_files}},
        {"sendfile", {ign, no_files}},
        {"sendfile_max_chunk", {ign, no_files}},
        {"aio", {ign, no_files}},
        {"directio", {ign, no_files}},
        {"output_buffers", {ign, no_files}},
        {"postpone_output", {ign, buffers}},
        {"send_lowat", {ign, "lb has no such setting"}},
        {"server_tokens", {ign, "lb's own answers say `Server: lb` without a version"}},
        {"types", {ign, no_files}},
        {"types_hash_max_size", {ign, "lb has no hash tables to size"}},
        {"types_hash_bucket_size", {ign, "lb has no hash tables to size"}},
        {"server_names_hash_max_size", {ign, "lb has no hash tables to size"}},
        {"server_names_hash_bucket_size", {ign, "lb has no hash tables to size"}},
        {"variables_hash_max_size", {ign, "lb has no hash tables to size"}},
        {"variables_hash_bucket_size", {ign, "lb has no hash tables to size"}},
        {"map_hash_max_size", {ign, "lb has no hash tables to size"}},
        {"map_hash_bucket_size", {ign, "lb has no hash tables to size"}},
        {"proxy_headers_hash_max_size", {ign, "lb has no hash tables to size"}},
        {"proxy_headers_hash_bucket_size", {ign, "lb has no hash tables to size"}},
        {"open_file_cache", {ign, no_files}},
        {"open_file_cache_valid", {ign, no_files}},
        {"open_file_cache_min_uses", {ign, no_files}},
        {"open_file_cache_errors", {ign, no_files}},
        {"disable_symlinks", {ign, no_files}},
        {"log_not_found", {ign, no_files}},
        {"log_subrequest", {ign, "lb makes no subrequests"}},
        {"charset", {uns, "lb does not change Content-Type; let the targets set the charset"}},
        {"source_charset", {uns, "lb does not recode responses"}},
        {"etag", {ign, no_files}},
        {"if_modified_since", {ign, no_files}},
        {"expires", {uns, "lb does not set caching headers; add Cache-Control with response_headers or in the targets"}},
        {"autoindex", {uns, no_files}},
        {"absolute_redirect", {ign, "lb's redirects are absolute"}},
        {"port_in_redirect", {ign, "lb's redirects name the port unless it is the scheme's default"}},
        {"server_name_in_redirect", {ign, "lb's redirects use the request's host"}},
        {"msie_padding", {ign, "lb has no such setting"}},
        {"msie_refresh", {ign, "lb has no such setting"}},
        {"chunked_transfer_encoding", {def, nullptr}},
        {"ignore_invalid_headers", {ign, "lb refuses requests with invalid header names (400)"}},
        {"underscores_in_headers", {ign, "lb passes header names with underscores"}},
        {"client_header_buffer_size", {ign, "lb sizes its buffers itself; max_header_size limits the head"}},
        {"client_body_buffer_size", {ign, buffers}},
        {"client_body_in_file_only", {ign, buffers}},
        {"client_body_in_single_buffer", {ign, buffers}},
        {"client_body_temp_path", {ign, buffers}},
        {"resolver_timeout", {ign, "lb's DNS timeout is global.resolver.timeout (default 2s)"}},
        {"satisfy", {uns, "lb has no access phases; only allow/deny map (to source_ip rules)"}},
        // proxy
        {"proxy_buffering", {ign, buffers}},
        {"proxy_request_buffering", {ign, buffers}},
        {"proxy_buffers", {ign, buffers}},
        {"proxy_buffer_size", {ign, buffers}},
        {"proxy_busy_buffers_size", {ign, buffers}},
        {"proxy_max_temp_file_size", {ign, buffers}},
        {"proxy_temp_file_write_size", {ign, buffers}},
        {"proxy_temp_path", {ign, buffers}},
        {"proxy_socket_keepalive", {ign, "lb pools target connections itself"}},
        {"proxy_ignore_client_abort", {ign, "lb ends the target's request when its client leaves"}},
        {"proxy_pass_request_headers", {def, nullptr}},
        {"proxy_pass_request_body", {def, nullptr}},
        {"proxy_cache", {uns, no_cache}},
        {"proxy_cache_path", {uns, no_cache}},
        {"proxy_cache_key", {uns, no_cache}},
        {"proxy_cache_valid", {uns, no_cache}},
        {"proxy_cache_bypass", {uns, no_cache}},
        {"proxy_no_cache", {uns, no_cache}},
        {"proxy_cache_use_stale", {uns, no_cache}},
        {"proxy_cache_lock", {uns, no_cache}},
        {"proxy_cache_methods", {uns, no_cache}},
        {"proxy_cache_min_uses", {uns, no_cache}},
        {"proxy_cache_revalidate", {uns, no_cache}},
        {"proxy_cache_background_update", {uns, no_cache}},
        {"proxy_intercept_errors", {uns, "lb passes the target's error responses as they are"}},
        {"error_page", {uns, "lb has no custom error pages; its own answers are short text/plain bodies"}},
        {"proxy_cookie_domain", {uns, "lb does not rewrite Set-Cookie; let the application set the domain"}},
        {"proxy_cookie_path", {uns, "lb does not rewrite Set-Cookie; let the application set the path"}},
        {"proxy_cookie_flags", {uns, "lb does not rewrite Set-Cookie"}},
        {"proxy_pass_header", {uns, "lb passes the target's response headers (remove some with response_headers)"}},
        {"proxy_ignore_headers", {uns, "lb has no cache or X-Accel handling"}},
        {"proxy_set_body", {uns, "lb forwards the client's body"}},
        {"proxy_method", {uns, "lb forwards the client's method"}},
        {"proxy_bind", {uns, "lb connects to targets from the system's chosen address"}},
        {"proxy_store", {uns, no_cache}},
        {"proxy_ssl_certificate", {uns, "lb does not present client certificates to targets"}},
        {"proxy_ssl_certificate_key", {uns, "lb does not present client certificates to targets"}},
        {"proxy_ssl_protocols", {ign, "lb speaks TLS 1.2 and 1.3 to targets"}},
        {"proxy_ssl_ciphers", {ign, "lb chooses the suites it offers targets"}},
        {"proxy_ssl_verify_depth", {ign, "lb verifies the whole chain"}},
        {"proxy_ssl_session_reuse", {def, nullptr}},
        {"proxy_ssl_crl", {uns, "lb does not check CRLs for targets"}},
        // TLS
        {"ssl_session_cache", {def, nullptr}},
        {"ssl_session_timeout", {def, nullptr}},
        {"ssl_session_tickets", {def, nullptr}},
        {"ssl_session_ticket_key", {ign, "lb makes and rotates its ticket keys itself"}},
        {"ssl_prefer_server_ciphers", {def, nullptr}},
        {"ssl_dhparam", {ign, "lb's policies use ECDHE key exchange only"}},
        {"ssl_ecdh_curve", {ign, "lb chooses the curves"}},
        {"ssl_buffer_size", {ign, "lb sizes TLS records itself"}},
        {"ssl_trusted_certificate", {ign, "used by nginx for stapling and client certificates, which lb does not do"}},
        {"ssl_stapling", {uns, "lb does not staple OCSP responses"}},
        {"ssl_stapling_verify", {uns, "lb does not staple OCSP responses"}},
        {"ssl_stapling_file", {uns, "lb does not staple OCSP responses"}},
        {"ssl_stapling_responder", {uns, "lb does not staple OCSP responses"}},
        {"ssl_client_certificate", {uns, "lb does not verify client certificates"}},
        {"ssl_verify_client", {uns, "lb does not verify client certificates"}},
        {"ssl_verify_depth", {uns, "lb does not verify client certificates"}},
        {"ssl_crl", {uns, "lb does not verify client certificates"}},
        {"ssl_early_data", {uns, "lb does not accept TLS 1.3 early data"}},
        {"ssl_password_file", {uns, "lb needs unencrypted private keys"}},
        {"ssl_conf_command", {uns, "lb's TLS settings are its policies"}},
        {"ssl_reject_handshake", {uns, "lb answers every handshake with its default certificate"}},
        {"ssl_engine", {uns, "lb has no OpenSSL engine setting"}},
        {"http2_push", {ign, "lb does not push"}},
        {"http2_push_preload", {ign, "lb does not push"}},
        {"http2_recv_buffer_size", {ign, "lb sizes its buffers itself"}},
        {"http2_chunk_size", {ign, "lb sizes its frames itself"}},
        {"http2_idle_timeout", {ign, "lb's idle_timeout applies to HTTP/2 connections too"}},
        {"http2_recv_timeout", {ign, "lb's header_timeout applies to HTTP/2 streams too"}},
        {"http2_max_field_size", {ign, "lb's max_header_size bounds HTTP/2 heads too"}},
        {"http2_max_header_size", {ign, "lb's max_header_size bounds HTTP/2 heads too"}},
        {"http2_max_requests", {ign, "lb has no per-connection request limit"}},
        {"http2_body_preread_size", {ign, "lb sizes its windows with http2_limits"}},
        // things lb does not do
        {"gzip", {uns, no_compress}},
        {"gzip_types", {uns, no_compress}},
        {"gzip_vary", {uns, no_compress}},
        {"gzip_proxied", {uns, no_compress}},
        {"gzip_comp_level", {uns, no_compress}},
        {"gzip_buffers", {uns, no_compress}},
        {"gzip_http_version", {uns, no_compress}},
        {"gzip_min_length", {uns, no_compress}},
        {"gzip_disable", {uns, no_compress}},
        {"gzip_static", {uns, no_files}},
        {"gunzip", {uns, no_compress}},
        {"brotli", {uns, no_compress}},
        {"brotli_types", {uns, no_compress}},
        {"limit_req", {uns, "use the listener's client_limits.request_rate (per client address, answers 429)"}},
        {"limit_req_zone", {uns, "use the listener's client_limits.request_rate (per client address, answers 429)"}},
        {"limit_req_status", {uns, "lb answers 429 to clients over client_limits"}},
        {"limit_req_log_level", {uns, "lb logs client_limits refusals at most every 5 s"}},
        {"limit_conn", {uns, "use the listener's client_limits.connections (per client address)"}},
        {"limit_conn_zone", {uns, "use the listener's client_limits.connections (per client address)"}},
        {"limit_conn_status", {uns, "lb answers 429 to clients over client_limits"}},
        {"limit_conn_log_level", {uns, "lb logs client_limits refusals at most every 5 s"}},
        {"limit_rate", {uns, "lb does not limit bandwidth"}},
        {"limit_rate_after", {uns, "lb does not limit bandwidth"}},
        {"limit_except", {uns, "write rules with a method condition instead"}},
        {"auth_basic", {uns, "lb does not authenticate clients; authenticate in the targets"}},
        {"auth_basic_user_file", {uns, "lb does not authenticate clients; authenticate in the targets"}},
        {"auth_request", {uns, "lb does not authenticate clients; authenticate in the targets"}},
        {"auth_request_set", {uns, "lb does not authenticate clients; authenticate in the targets"}},
        {"set", {uns, scripting}},
        {"break", {uns, scripting}},
        {"rewrite_log", {ign, "lb has no rewrite module"}},
        {"sub_filter", {uns, "lb does not rewrite response bodies"}},
        {"sub_filter_once", {uns, "lb does not rewrite response bodies"}},
        {"sub_filter_types", {uns, "lb does not rewrite response bodies"}},
        {"ssi", {uns, "lb does not rewrite response bodies"}},
        {"add_before_body", {uns, "lb does not rewrite response bodies"}},
        {"add_after_body", {uns, "lb does not rewrite response bodies"}},
        {"add_trailer", {uns, "lb does not add trailers"}},
        {"mirror", {uns, "lb does not mirror requests"}},
        {"mirror_request_body", {uns, "lb does not mirror requests"}},
        {"split_clients", {uns, "use a forward action with weighted target_groups"}},
        {"geo", {uns, "use rules with source_ip conditions"}},
        {"geoip_country", {uns, "lb has no GeoIP database"}},
        {"geoip_city", {uns, "lb has no GeoIP database"}},
        {"secure_link", {uns, scripting}},
        {"secure_link_md5", {uns, scripting}},
        {"userid", {uns, "lb sets no tracking cookies (its own are for stickiness)"}},
        {"stub_status", {uns, "lb's admin API has /api/v1/stats and /metrics"}},
        {"fastcgi_pass", {uns, other_proto}},
        {"uwsgi_pass", {uns, other_proto}},
        {"scgi_pass", {uns, other_proto}},
        {"grpc_pass", {uns, "lb forwards HTTP/1.1 to targets; gRPC needs HTTP/2 to the target"}},
        {"memcached_pass", {uns, other_proto}},
        {"empty_gif", {uns, no_files}},
        {"dav_methods", {uns, no_files}},
        {"mp4", {uns, no_files}},
        {"flv", {uns, no_files}},
        {"image_filter", {uns, "lb does not transform responses"}},
        {"internal", {uns, "lb has no internal redirects"}},
        {"recursive_error_pages", {uns, "lb has no custom error pages"}},
        {"subrequest_output_buffer_size", {ign, "lb makes no subrequests"}},
        {"more_set_headers", {uns, "use response_headers (set)"}},
        {"more_clear_headers", {uns, "use response_headers (remove)"}},
        {"more_set_input_headers", {uns, "use request_headers (set)"}},
        {"more_clear_input_headers", {uns, "use request_headers (remove)"}},
        // upstream blocks
        {"keepalive", {ign, "lb pools target connections by itself"}},
        {"keepalive_timeout", {ign, "lb pools target connections by itself"}},
        {"zone", {def, nullptr}},
        {"resolver", {def, nullptr}},
        {"sticky", {uns, "use the group's stickiness (lb_cookie or app_cookie)"}},
        {"ntlm", {uns, "lb does not tie client connections to target connections"}},
        {"queue", {uns, "lb does not queue requests for busy targets"}},
        {"least_time", {uns, "use least_outstanding_requests"}},
        // stream
        {"proxy_download_rate", {uns, "lb does not limit bandwidth"}},
        {"proxy_upload_rate", {uns, "lb does not limit bandwidth"}},
        {"proxy_requests", {uns, "lb's udp flows end after udp.idle_timeout, not after a count of datagrams"}},
        {"proxy_responses", {uns, "lb's udp flows end after udp.idle_timeout, not after a count of datagrams"}},
        {"proxy_half_close", {def, nullptr}},
    };
    return table;
}

}  // namespace

void report_unmapped(const NginxDirective& block, Context context, Report& report) {
    const auto& own = mapped().at(context);
    for (const auto& directive : block.block) {
        if (own.count(directive.name)) continue;
        auto found = others().find(directive.name);
        if (found == others().end()) {
            report.unsupported(directive, "lb has no equivalent of this directive; it was left out");
            continue;
        }
        const Entry& entry = found->second;
        switch (entry.treatment) {
            case Treatment::mapped: break;
            case Treatment::ignored_default: report.ignored(directive); break;
            case Treatment::ignored: report.ignored(directive, entry.why); break;
            case Treatment::unsupported: report.unsupported(directive, entry.why); break;
        }
    }
}

}  // namespace lb::conf::nginx

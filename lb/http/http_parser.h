// HttpParser: llhttp (strict mode) wrapped for one side of a proxied
// connection. It assembles the head (start line + headers) and hands body
// bytes and message boundaries to a sink; it enforces the header size limit.
#pragma once

#include <llhttp.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "lb/http/http_head.h"

namespace lb {

class HttpParserSink {
public:
    // Head complete. Return kContinue, kSkipBody (e.g. response to HEAD), or kError.
    virtual int on_http_head(HttpHead& head) = 0;
    virtual int on_http_body(std::string_view data) = 0;
    // Return kContinue, or kPause to stop before the next message.
    virtual int on_http_message_complete() = 0;

    static constexpr int kContinue = 0;
    static constexpr int kSkipBody = 1;
    static constexpr int kError = -1;
    static constexpr int kPause = HPE_PAUSED;

protected:
    ~HttpParserSink() = default;
};

class HttpParser {
public:
    enum class Kind { request, response };
    enum class Status {
        ok,             // all bytes consumed
        paused,         // the sink paused at a message end; `consumed` bytes used
        upgraded,       // head of an upgrade/101 parsed; the rest is tunnel data
        header_too_large,
        error,
    };
    struct Outcome {
        Status status;
        size_t consumed;
    };

    HttpParser(Kind kind, HttpParserSink* sink, uint64_t max_header_bytes);
    HttpParser(const HttpParser&) = delete;
    HttpParser& operator=(const HttpParser&) = delete;

    Outcome feed(std::string_view data);
    // The peer closed: completes a message delimited by close, or errors.
    Outcome finish();
    // Forget everything, ready for a new message stream (after
    // Status::paused, the next pipelined message starts here).
    void reset();
    bool keep_alive() const { return llhttp_should_keep_alive(&parser_) != 0; }
    bool message_in_progress() const { return in_message_; }
    bool head_complete() const { return head_complete_; }
    const char* error_reason() const;
    llhttp_errno_t error_code() const { return llhttp_get_errno(&parser_); }
    HttpHead& head() { return head_; }

private:
    static llhttp_settings_t* settings();
    static int cb_message_begin(llhttp_t* p);
    static int cb_url(llhttp_t* p, const char* at, size_t len);
    static int cb_status(llhttp_t* p, const char* at, size_t len);
    static int cb_method(llhttp_t* p, const char* at, size_t len);
    static int cb_header_field(llhttp_t* p, const char* at, size_t len);
    static int cb_header_value(llhttp_t* p, const char* at, size_t len);
    static int cb_headers_complete(llhttp_t* p);
    static int cb_body(llhttp_t* p, const char* at, size_t len);
    static int cb_chunk_header(llhttp_t* p);
    bool check_chunk_end(const char* from);
    static int cb_message_complete(llhttp_t* p);
    bool count(size_t len);

    Kind kind_;
    HttpParserSink* sink_;
    uint64_t max_header_bytes_;
    llhttp_t parser_{};
    HttpHead head_;
    uint64_t header_bytes_ = 0;
    bool header_too_large_ = false;
    bool in_value_ = false;
    bool in_message_ = false;
    bool head_complete_ = false;

    // llhttp 8.1 skips the two bytes after chunk data without looking at
    // them; lb checks they are CRLF. chunk_left_: data bytes still due in
    // this chunk; crlf_due_: terminator bytes not yet seen (they may come
    // in the next feed); input_end_: end of the bytes being fed.
    uint64_t chunk_left_ = 0;
    uint8_t crlf_due_ = 0;
    bool bad_chunk_end_ = false;
    const char* input_end_ = nullptr;
};

}  // namespace lb

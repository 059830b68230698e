#include "lb/http/http_parser.h"

#include <algorithm>

namespace lb {

namespace {
HttpParser* self(llhttp_t* p) { return static_cast<HttpParser*>(p->data); }
}  // namespace

// The callbacks are the same for every parser: one table for all of them
// (llhttp keeps a pointer to it), not a copy in every connection.
llhttp_settings_t* HttpParser::settings() {
    static llhttp_settings_t table = [] {
        llhttp_settings_t s;
        llhttp_settings_init(&s);
        s.on_message_begin = cb_message_begin;
        s.on_url = cb_url;
        s.on_status = cb_status;
        s.on_method = cb_method;
        s.on_header_field = cb_header_field;
        s.on_header_value = cb_header_value;
        s.on_headers_complete = cb_headers_complete;
        s.on_body = cb_body;
        s.on_chunk_header = cb_chunk_header;
        s.on_message_complete = cb_message_complete;
        return s;
    }();
    return &table;
}

HttpParser::HttpParser(Kind kind, HttpParserSink* sink, uint64_t max_header_bytes)
    : kind_(kind), sink_(sink), max_header_bytes_(max_header_bytes) {
    reset();
}

void HttpParser::reset() {
    llhttp_init(&parser_, kind_ == Kind::request ? HTTP_REQUEST : HTTP_RESPONSE, settings());
    parser_.data = this;
    head_.clear();
    header_bytes_ = 0;
    header_too_large_ = false;
    in_value_ = false;
    in_message_ = false;
    head_complete_ = false;
    chunk_left_ = 0;
    crlf_due_ = 0;
    bad_chunk_end_ = false;
}

bool HttpParser::count(size_t len) {
    header_bytes_ += len;
    if (header_bytes_ > max_header_bytes_) {
        header_too_large_ = true;
        return false;
    }
    return true;
}

int HttpParser::cb_message_begin(llhttp_t* p) {
    HttpParser* s = self(p);
    s->head_.clear();
    s->header_bytes_ = 0;
    s->in_value_ = false;
    s->in_message_ = true;
    s->head_complete_ = false;
    return 0;
}

int HttpParser::cb_url(llhttp_t* p, const char* at, size_t len) {
    HttpParser* s = self(p);
    if (!s->count(len)) return -1;
    s->head_.url.append(at, len);
    return 0;
}

int HttpParser::cb_method(llhttp_t* p, const char* at, size_t len) {
    HttpParser* s = self(p);
    if (!s->count(len)) return -1;
    s->head_.method.append(at, len);
    return 0;
}

int HttpParser::cb_status(llhttp_t* p, const char* at, size_t len) {
    HttpParser* s = self(p);
    if (!s->count(len)) return -1;
    s->head_.reason.append(at, len);
    return 0;
}

int HttpParser::cb_header_field(llhttp_t* p, const char* at, size_t len) {
    HttpParser* s = self(p);
    // A field's ": " and CRLF count too, once per field: llhttp hands a name
    // over in as many pieces as it arrived in.
    bool new_field = s->in_value_ || s->head_.headers.empty();
    if (!s->count(len + (new_field ? 4 : 0))) return -1;
    if (new_field) {
        s->head_.headers.emplace_back();
        s->in_value_ = false;
    }
    s->head_.headers.back().first.append(at, len);
    return 0;
}

int HttpParser::cb_header_value(llhttp_t* p, const char* at, size_t len) {
    HttpParser* s = self(p);
    if (!s->count(len)) return -1;
    s->in_value_ = true;
    if (s->head_.headers.empty()) s->head_.headers.emplace_back();
    s->head_.headers.back().second.append(at, len);
    return 0;
}

int HttpParser::cb_headers_complete(llhttp_t* p) {
    HttpParser* s = self(p);
    HttpHead& head = s->head_;
    head.http_major = p->http_major;
    head.http_minor = p->http_minor;
    head.status = p->status_code;
    head.chunked = (p->flags & F_CHUNKED) != 0;
    if (p->flags & F_CONTENT_LENGTH) head.content_length = p->content_length;
    head.upgrade = p->upgrade != 0;
    head.keep_alive = llhttp_should_keep_alive(p) != 0;
    s->head_complete_ = true;
    int result = s->sink_->on_http_head(head);
    if (result == HttpParserSink::kError) return -1;
    return result;
}

int HttpParser::cb_chunk_header(llhttp_t* p) {
    HttpParser* s = self(p);
    s->chunk_left_ = p->content_length;
    // A chunk whose data is empty is the last one: trailers follow, not CRLF
    // after data, and llhttp checks those lines itself.
    return 0;
}

int HttpParser::cb_body(llhttp_t* p, const char* at, size_t len) {
    HttpParser* s = self(p);
    if ((p->flags & F_CHUNKED) && s->chunk_left_ > 0) {
        s->chunk_left_ -= std::min<uint64_t>(s->chunk_left_, len);
        if (s->chunk_left_ == 0) {
            s->crlf_due_ = 2;
            if (!s->check_chunk_end(at + len)) return -1;
        }
    }
    return s->sink_->on_http_body(std::string_view(at, len));
}

// Checks the due terminator bytes that lie before input_end_.
bool HttpParser::check_chunk_end(const char* from) {
    while (crlf_due_ > 0 && from < input_end_) {
        char expected = crlf_due_ == 2 ? '\r' : '\n';
        if (*from++ != expected) {
            bad_chunk_end_ = true;
            return false;
        }
        --crlf_due_;
    }
    return true;
}

const char* HttpParser::error_reason() const {
    if (bad_chunk_end_) return "chunk data not followed by CRLF";
    return llhttp_get_error_reason(&parser_);
}

int HttpParser::cb_message_complete(llhttp_t* p) {
    HttpParser* s = self(p);
    s->in_message_ = false;
    return s->sink_->on_http_message_complete();
}

HttpParser::Outcome HttpParser::feed(std::string_view data) {
    input_end_ = data.data() + data.size();
    if (crlf_due_ > 0 && !check_chunk_end(data.data())) return {Status::error, 0};
    llhttp_errno_t err = llhttp_execute(&parser_, data.data(), data.size());
    auto consumed = [&] {
        const char* pos = llhttp_get_error_pos(&parser_);
        return pos ? static_cast<size_t>(pos - data.data()) : data.size();
    };
    switch (err) {
        case HPE_OK: return {Status::ok, data.size()};
        case HPE_PAUSED: return {Status::paused, consumed()};
        case HPE_PAUSED_UPGRADE: return {Status::upgraded, consumed()};
        default: break;
    }
    if (header_too_large_) return {Status::header_too_large, 0};
    return {Status::error, 0};
}

HttpParser::Outcome HttpParser::finish() {
    llhttp_errno_t err = llhttp_finish(&parser_);
    if (err == HPE_OK) return {Status::ok, 0};
    if (err == HPE_PAUSED) return {Status::paused, 0};
    return {Status::error, 0};
}

}  // namespace lb

// One chunk of a chunked body (RFC 9112 section 7.1): size line, data,
// CRLF. Written to a stream for request bodies towards targets and response
// bodies towards clients, or appended to a buffer (a request kept for a
// retry).
#pragma once

#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>

#include "lb/io/stream.h"

namespace lb {

// The size line ("1a\r\n") of a chunk of `size` bytes, in `line`.
inline std::string_view chunk_size_line(char (&line)[24], size_t size) {
    int n = snprintf(line, sizeof(line), "%zx\r\n", size);
    return std::string_view(line, static_cast<size_t>(n));
}

inline void write_chunk(Stream& stream, std::string_view data) {
    char line[24];
    stream.write(chunk_size_line(line, data.size()));
    stream.write(data);
    stream.write("\r\n");
}

inline void append_chunk(std::string& out, std::string_view data) {
    char line[24];
    out.append(chunk_size_line(line, data.size()));
    out.append(data);
    out.append("\r\n");
}

}  // namespace lb

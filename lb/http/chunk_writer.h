// One chunk of a chunked body (RFC 9112 section 7.1) written to a stream:
// size line, data, CRLF. Used for request bodies towards targets and for
// response bodies towards clients alike.
#pragma once

#include <cstdio>
#include <string_view>

#include "lb/io/stream.h"

namespace lb {

inline void write_chunk(Stream& stream, std::string_view data) {
    char size_line[24];
    int n = snprintf(size_line, sizeof(size_line), "%zx\r\n", data.size());
    stream.write(std::string_view(size_line, static_cast<size_t>(n)));
    stream.write(data);
    stream.write("\r\n");
}

}  // namespace lb

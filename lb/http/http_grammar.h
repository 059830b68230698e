// The pieces of HTTP's grammar (RFC 9110 section 5, RFC 3986 section 3.2)
// that lb checks itself on top of llhttp: llhttp 8.1 accepts header names
// with spaces or no name at all, and has no opinion on Host values.
#pragma once

#include <string_view>

namespace lb {

// tchar (RFC 9110 section 5.6.2).
bool is_tchar(char c);
// A non-empty token: field names, methods, transfer codings.
bool is_token(std::string_view s);
// A field value lb will forward: no NUL, CR or LF (llhttp strict rejects
// other controls; obs-text, bytes 0x80-0xff, is allowed).
bool is_field_value(std::string_view s);
// uri-host [ ":" port ] (RFC 9110 section 7.2): an IP literal in brackets,
// or a reg-name of unreserved, sub-delims and %XX escapes; the port is
// digits (up to 65535). Empty is valid (a Host with no authority).
bool is_authority(std::string_view s);

}  // namespace lb

#include "lb/http/percent_decode.h"

namespace lb {

size_t percent_decode(std::string_view in, char* out) {
    size_t length = 0;
    for (size_t i = 0; i < in.size(); ++i) {
        if (in[i] == '%' && i + 2 < in.size()) {
            int high = hex_digit_value(in[i + 1]), low = hex_digit_value(in[i + 2]);
            if (high >= 0 && low >= 0) {
                out[length++] = static_cast<char>(high * 16 + low);
                i += 2;
                continue;
            }
        }
        out[length++] = in[i];
    }
    return length;
}

}  // namespace lb

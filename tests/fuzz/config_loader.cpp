// libFuzzer harness: the YAML config loader (conf/config_loader.h) on
// arbitrary text, through load_config_string (no temporary file).
//
// Asserts, besides ASan/UBSan staying quiet:
//   - nothing is thrown out of the loader's API;
//   - the result is a Config or one error line, free of control
//     characters, that starts with "<file>:<line>:<column>: " (the README's
//     "Config errors"; an empty file is reported at 1:1).
//
// Relative paths in the text (certificates, token files) resolve against a
// directory that does not exist, so what the loader finds on disk does not
// depend on where the fuzzer runs.
#include <cctype>
#include <exception>
#include <string>
#include <string_view>

#include "conf/config_loader.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

const std::string kName = "/nonexistent-lb-fuzz/lb.yaml";

// "<digits>:" at the start of `text`; advances past it.
bool number_then_colon(std::string_view& text) {
    size_t digits = 0;
    while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
    if (digits == 0 || digits >= text.size() || text[digits] != ':') return false;
    text.remove_prefix(digits + 1);
    return true;
}

void check_error(const std::string& error) {
    FUZZ_CHECK(!error.empty());
    for (char c : error) FUZZ_CHECK_SHOW(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f, error);
    FUZZ_CHECK_SHOW(error.compare(0, kName.size(), kName) == 0, error);
    std::string_view rest = std::string_view(error).substr(kName.size());
    FUZZ_CHECK_SHOW(!rest.empty() && rest.front() == ':', error);
    rest.remove_prefix(1);
    bool positioned = number_then_colon(rest) && number_then_colon(rest) && !rest.empty() && rest.front() == ' ';
    FUZZ_CHECK_SHOW(positioned, error);  // line and column
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    try {
        auto config = lb::conf::load_config_string(text, kName);
        if (!config.ok()) check_error(config.error());
        else FUZZ_CHECK(!config->listeners.empty());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "load_config_string threw: %s\n", e.what());
        FUZZ_CHECK(!"an exception escaped the config loader");
    } catch (...) {
        FUZZ_CHECK(!"a non-std exception escaped the config loader");
    }
    return 0;
}

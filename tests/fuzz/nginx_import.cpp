// libFuzzer harness: `lb import-nginx` (conf/nginx_import.h) on arbitrary
// text as the main nginx file, through import_nginx_text (no temporary
// file).
//
// Asserts, besides ASan/UBSan staying quiet:
//   - nothing is thrown out of the importer;
//   - it never makes YAML that lb's loader refuses (the importer checks its
//     own output: a refusal is reported as an importer bug, and is a
//     finding here);
//   - exit status 1 comes with an error and no YAML, 0 and 2 with YAML;
//   - every report line is "file:line: directive: ...", without control
//     characters, about the fuzzed file (includes are looked for in a
//     directory that does not exist).
#include <cctype>
#include <exception>
#include <string>
#include <string_view>

#include "conf/nginx_import.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

const std::string kName = "/nonexistent-lb-fuzz/nginx.conf";

void check_report_line(const std::string& line) {
    FUZZ_CHECK_SHOW(line.compare(0, kName.size() + 1, kName + ":") == 0, line);
    std::string_view rest = std::string_view(line).substr(kName.size() + 1);
    size_t digits = 0;
    while (digits < rest.size() && std::isdigit(static_cast<unsigned char>(rest[digits]))) ++digits;
    FUZZ_CHECK_SHOW(digits > 0 && rest.substr(digits, 2) == ": ", line);
    rest.remove_prefix(digits + 2);
    FUZZ_CHECK_SHOW(rest.find(": ") != std::string_view::npos, line);  // directive: what
    for (char c : line) FUZZ_CHECK_SHOW(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f, line);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    try {
        lb::conf::NginxImport result = lb::conf::import_nginx_text(text, kName);
        if (result.exit_status == 1) {
            FUZZ_CHECK(!result.error.empty());
            FUZZ_CHECK(result.yaml.empty());
            FUZZ_CHECK_SHOW(result.error.find("bug in the importer") == std::string::npos, result.error);
        } else {
            FUZZ_CHECK(result.exit_status == 0 || result.exit_status == 2);
            FUZZ_CHECK(!result.yaml.empty());
        }
        for (const std::string& line : result.report) check_report_line(line);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "import_nginx_text threw: %s\n", e.what());
        FUZZ_CHECK(!"an exception escaped the importer");
    } catch (...) {
        FUZZ_CHECK(!"a non-std exception escaped the importer");
    }
    return 0;
}

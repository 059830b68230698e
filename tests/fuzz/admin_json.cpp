// libFuzzer harness: the admin API's request arguments (lb/control/admin_request.h):
// the JSON body of a target registration (address, port, weight, zone) and
// the address:port that names a target to deregister (drain).
//
// The input is used both ways: as a request body, and as the decoded path
// segment of a DELETE.
//
// Asserts, besides ASan/UBSan staying quiet and nothing being thrown:
//   - an accepted registration is a usable target: an IP literal that is
//     neither unspecified, broadcast nor multicast, port 1..65535, weight
//     0..1000, addr equal to address + port; weight and zone flags match
//     what was given;
//   - written back as JSON, it parses to the same registration;
//   - an accepted target id names a port, and prints as text that parses
//     back to the same address;
//   - every error message becomes a JSON reply body without throwing, as the
//     admin API sends it.
#include <exception>
#include <string>

#include "lb/control/admin_request.h"
#include "tests/fuzz/fuzz_support.h"

using nlohmann::json;

namespace {

// The error reply as lb/control/admin_api.cpp writes it; it must parse back.
void check_error_reply(const std::string& message) {
    FUZZ_CHECK(!message.empty());
    std::string text = lb::json_reply_text(json{{"error", message}});
    json reply = json::parse(text, nullptr, /*allow_exceptions=*/false);
    FUZZ_CHECK(reply.is_object() && reply["error"].is_string());
}

void check_registration(const lb::TargetRegistration& registration) {
    const lb::conf::Target& target = registration.target;
    auto ip = lb::SocketAddress::from_ip(target.address, target.port);
    FUZZ_CHECK(ip.has_value());
    FUZZ_CHECK(*ip == target.addr);
    FUZZ_CHECK(target.addr.unusable_as_target() == nullptr);
    FUZZ_CHECK(target.port >= 1);
    FUZZ_CHECK(target.addr.port() == target.port);
    FUZZ_CHECK(target.weight >= 0 && target.weight <= 1000);
    if (!registration.weight_given) FUZZ_CHECK(target.weight == 1);
    if (!registration.zone_given) FUZZ_CHECK(target.zone.empty());

    json again = {{"address", target.address}, {"port", target.port}};
    if (registration.weight_given) again["weight"] = target.weight;
    if (registration.zone_given) again["zone"] = target.zone;
    auto reparsed = lb::parse_target_registration(again.dump());
    FUZZ_CHECK(reparsed.ok());
    FUZZ_CHECK(reparsed->target.address == target.address);
    FUZZ_CHECK(reparsed->target.addr == target.addr);
    FUZZ_CHECK(reparsed->target.weight == target.weight);
    FUZZ_CHECK(reparsed->target.zone == target.zone);
    FUZZ_CHECK(reparsed->weight_given == registration.weight_given);
    FUZZ_CHECK(reparsed->zone_given == registration.zone_given);
}

void check_target_id(const std::string& text) {
    auto address = lb::parse_target_id(text);
    if (!address) {
        check_error_reply(address.error());
        return;
    }
    FUZZ_CHECK(address->port() != 0);
    FUZZ_CHECK(address->family() == AF_INET || address->family() == AF_INET6);
    auto again = lb::parse_target_id(address->to_string());
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(*again == *address);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string input(reinterpret_cast<const char*>(data), size);
    try {
        auto registration = lb::parse_target_registration(input);
        if (registration.ok()) check_registration(*registration);
        else check_error_reply(registration.error());
        check_target_id(input);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "exception: %s\n", e.what());
        FUZZ_CHECK(!"an exception escaped the admin API's parsing");
    }
    return 0;
}

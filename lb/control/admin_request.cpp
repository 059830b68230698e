#include "lb/control/admin_request.h"

#include <cstdint>

namespace lb {

using nlohmann::json;

Result<TargetRegistration> parse_target_registration(std::string_view body) {
    json request = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (request.is_discarded()) return Error{"body is not valid JSON"};
    if (!request.is_object()) return Error{"body must be a JSON object {\"address\", \"port\", \"weight\"?, \"zone\"?}"};
    for (const auto& [name, value] : request.items()) {
        if (name != "address" && name != "port" && name != "weight" && name != "zone")
            return Error{"unknown key '" + name + "' (expected address, port, weight, zone)"};
    }
    TargetRegistration registration;
    conf::Target& target = registration.target;
    auto address = request.find("address");
    if (address == request.end() || !address->is_string()) return Error{"'address' is required: an IPv4 or IPv6 address"};
    target.address = address->get<std::string>();
    auto ip = SocketAddress::from_ip(target.address, 0);
    if (!ip) return Error{"'address' must be an IPv4 or IPv6 address, got '" + target.address + "'"};
    if (const char* why = ip->unusable_as_target()) return Error{std::string("'address': ") + why};
    auto port = request.find("port");
    if (port == request.end() || !port->is_number_integer() || port->get<int64_t>() < 1 || port->get<int64_t>() > 65535)
        return Error{"'port' is required: an integer from 1 to 65535"};
    target.port = static_cast<uint16_t>(port->get<int64_t>());
    target.addr = *SocketAddress::from_ip(target.address, target.port);
    if (auto weight = request.find("weight"); weight != request.end()) {
        if (!weight->is_number_integer() || weight->get<int64_t>() < 0 || weight->get<int64_t>() > 1000)
            return Error{"'weight' must be an integer from 0 to 1000"};
        target.weight = static_cast<int>(weight->get<int64_t>());
        registration.weight_given = true;
    }
    if (auto zone = request.find("zone"); zone != request.end()) {
        if (!zone->is_string()) return Error{"'zone' must be a string"};
        target.zone = zone->get<std::string>();
        registration.zone_given = true;
    }
    target.pos.file = "admin API";
    return registration;
}

Result<SocketAddress> parse_target_id(const std::string& text) {
    auto address = SocketAddress::parse(text);
    bool wildcard = text.rfind('*', 0) == 0;
    if (!address || wildcard || address->port() == 0)
        return Error{"target must be address:port ([address]:port for IPv6), got '" + text + "'"};
    return *address;
}

std::string json_reply_text(const json& body) {
    return body.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace lb

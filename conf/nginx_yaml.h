// Writes the importer's model (conf/nginx_model.h) as lb YAML: block style
// for the sections, flow style for short lists and targets, values quoted
// whenever YAML could read them as anything but the string meant, and a
// comment before each listener, rule, group and target saying where in
// nginx it came from. The same model always gives the same text.
#pragma once

#include <string>
#include <string_view>

#include "conf/nginx_model.h"

namespace lb::conf::nginx {

// A scalar as YAML reads it back unchanged: plain when that is safe,
// double-quoted (with \" \\ and \xHH escapes) otherwise. `in_flow`: inside
// [...] or {...}, where ',' ':' and brackets would end a plain scalar.
std::string yaml_scalar(std::string_view text, bool in_flow = false);

std::string write_yaml(const ConfigModel& config);

}  // namespace lb::conf::nginx

// The dashboard's static files (lb/control/dashboard/: index.html,
// dashboard.js, dashboard.css), compiled into the binary by
// tools/embed_assets at build time. They hold no data: the page fetches
// GET /api/v1/dashboard for that, with the admin token.
#pragma once

#include <string_view>

namespace lb {

struct DashboardAsset {
    std::string_view path;          // "/", "/dashboard.js", ...
    std::string_view content_type;
    std::string_view body;
};

// The file served at `path` (the request path, without a query), or null.
const DashboardAsset* find_dashboard_asset(std::string_view path);

}  // namespace lb

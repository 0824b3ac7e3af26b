// /api/v1/openapi.json: generated from the route table (so it cannot drift from the routes),
// with the shapes of the answers the routes refer to (#/components/schemas/NAME).
#pragma once

#include "server/api.h"

namespace ferry::engine::server {

tmpl::Value openapi_document(const Api& api);

// `{"$ref": "#/components/schemas/NAME"}`, for a ResponseDoc's schema.
std::string schema_ref(const char* name);
// The schema of an execution's status (a string, one of kExecutionStatuses).
std::string execution_status_schema();

}  // namespace ferry::engine::server

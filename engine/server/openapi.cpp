#include "server/openapi.h"

#include "core/executor.h"
#include "core/values.h"
#include "runtime/http_text.h"
#include "server/starter.h"

#include <algorithm>
#include <cctype>

namespace ferry::engine::server {

namespace {

using tmpl::Value;

// The answers' shapes (OpenAPI 3.0 schemas). Fields a later version may add are allowed
// (no additionalProperties: false), so a client written against these keeps working.
// clang-format off
constexpr const char* kSchemas = R"json({
  "Error": {"type": "object", "required": ["error"], "properties": {
    "error": {"$ref": "#/components/schemas/ErrorDetail"}}},
  "ErrorDetail": {"type": "object", "required": ["code", "message"], "properties": {
    "code": {"type": "string"}, "message": {"type": "string"},
    "fields": {"type": "object", "additionalProperties": {"type": "string"},
      "description": "invalid_form: the problem of each field (20 names that are not fields at most)"},
    "unlisted": {"type": "integer",
      "description": "invalid_form: names that are not fields past the 20 listed"}}},
  "ExecutionOutcome": {"type": "object", "required": ["id", "status"],
    "description": "what an anonymous caller learns of the execution it started (a public form, a verify: none hook): not its inputs or steps",
    "properties": {
      "id": {"type": "string"}, "status": {"$ref": "#/components/schemas/ExecutionStatus"},
      "dry_run": {"type": "boolean"},
      "outputs": {"nullable": true, "description": "the workflow's outputs once it succeeded"},
      "idempotent_replay": {"type": "boolean"}}},
  "HookDecision": {"type": "object",
    "required": ["execution_id", "step", "decision", "by", "comment"],
    "description": "a resume hook's answer: the decision taken",
    "properties": {
      "execution_id": {"type": "string"}, "step": {"type": "string"},
      "decision": {"type": "string", "enum": ["approved", "rejected"]},
      "by": {"type": "string"}, "comment": {"type": "string"}}},
  "Accepted": {"type": "object", "required": ["id", "status", "dry_run"], "properties": {
    "id": {"type": "string"}, "status": {"type": "string"},
    "dry_run": {"type": "boolean", "description": "the execution sends nothing: asked for, or the server runs with --dry-run"},
    "idempotent_replay": {"type": "boolean"}}},
  "ExecutionError": {"type": "object", "nullable": true,
    "description": "why it failed (null unless it did)", "properties": {
    "kind": {"type": "string"}, "message": {"type": "string"},
    "step": {"type": "string", "description": "the step whose failure ended it"}}},
  "ExecutionSummary": {"type": "object",
    "required": ["id", "workflow", "status", "dry_run", "trigger", "inputs", "created_at"],
    "properties": {
      "id": {"type": "string", "description": "a ULID (time-sortable)"},
      "workflow": {"type": "string"},
      "status": {"$ref": "#/components/schemas/ExecutionStatus"},
      "dry_run": {"type": "boolean"},
      "trigger": {"type": "string", "description": "cli, api, form, hook, schedule, retry, workflow"},
      "trigger_info": {"type": "object"},
      "inputs": {"type": "object"},
      "outputs": {"nullable": true, "description": "the workflow's outputs once it succeeded"},
      "error": {"$ref": "#/components/schemas/ExecutionError"},
      "created_at": {"type": "string", "format": "date-time"},
      "finished_at": {"type": "string", "format": "date-time", "nullable": true},
      "idempotent_replay": {"type": "boolean"}}},
  "Execution": {"allOf": [{"$ref": "#/components/schemas/ExecutionSummary"}, {
    "type": "object", "required": ["steps"], "properties": {
      "steps": {"type": "object", "description": "by step key (a for_each item: STEP[i])",
                "additionalProperties": {"$ref": "#/components/schemas/Step"}}}}]},
  "Step": {"type": "object", "required": ["key", "step", "status"], "properties": {
    "key": {"type": "string"}, "step": {"type": "string"}, "task": {"type": "string"},
    "provider": {"type": "string"},
    "status": {"type": "string", "description": "pending, running, waiting, retrying, succeeded, failed, skipped or cancelled"},
    "attempt": {"type": "integer"}, "idempotency_key": {"type": "string"},
    "input": {"nullable": true}, "output": {"nullable": true},
    "error": {"type": "object", "nullable": true, "properties": {
      "kind": {"type": "string"}, "message": {"type": "string"}}},
    "reason": {"type": "string", "description": "why it was skipped or cancelled"},
    "started_at": {"type": "string", "format": "date-time", "nullable": true},
    "finished_at": {"type": "string", "format": "date-time", "nullable": true},
    "duration_ms": {"type": "number"},
    "memo": {"type": "object", "description": "what the task kept for its later attempts (ctx.remember)"},
    "attempts": {"type": "array", "description": "GET /api/v1/executions/{id} only: every attempt",
                 "items": {"type": "object"}}}},
  "ExecutionList": {"type": "object", "required": ["executions", "next_cursor"], "properties": {
    "executions": {"type": "array", "items": {"$ref": "#/components/schemas/ExecutionSummary"}},
    "next_cursor": {"type": "string", "nullable": true}}},
  "Diff": {"type": "object", "properties": {
    "execution_id": {"type": "string"},
    "changes": {"type": "array", "items": {"type": "object"}}}},
  "Workflow": {"type": "object", "required": ["name"], "properties": {
    "name": {"type": "string"}, "description": {"type": "string"},
    "hash": {"type": "string", "description": "SHA-256 of the file's text"},
    "inputs": {"type": "object", "description": "a JSON Schema of the inputs"},
    "valid": {"type": "boolean", "description": "false for a file that does not load"},
    "problems": {"description": "what is wrong with it (valid: false)"}}},
  "WorkflowList": {"type": "object", "required": ["workflows"], "properties": {
    "workflows": {"type": "array", "items": {"$ref": "#/components/schemas/Workflow"}}}},
  "Integration": {"type": "object", "required": ["name", "type"], "properties": {
    "name": {"type": "string"}, "type": {"type": "string"}, "dry_run": {"type": "boolean"},
    "breaker": {"type": "string", "enum": ["closed", "open", "half_open"]},
    "disabled": {"type": "string", "nullable": true},
    "requests": {"type": "integer"}, "failures": {"type": "integer"},
    "error_rate": {"type": "number"},
    "last_success": {"type": "string", "format": "date-time", "nullable": true},
    "last_failure": {"type": "string", "format": "date-time", "nullable": true},
    "last_latency_ms": {"type": "number"}}},
  "IntegrationList": {"type": "object", "required": ["integrations"], "properties": {
    "integrations": {"type": "array", "items": {"$ref": "#/components/schemas/Integration"}}}},
  "IntegrationTest": {"type": "object", "required": ["reachable", "attempts"], "properties": {
    "reachable": {"type": "boolean", "nullable": true,
      "description": "null when nothing was sent (error says why: a secret that cannot be resolved, an open circuit breaker)"},
    "attempts": {"type": "integer"},
    "status": {"type": "integer"}, "latency_ms": {"type": "number"},
    "authenticated": {"type": "boolean", "nullable": true},
    "location": {"type": "string"},
    "error": {"$ref": "#/components/schemas/ErrorDetail"}}},
  "DeadLetterList": {"type": "object", "required": ["dead_letters", "next_cursor"], "properties": {
    "dead_letters": {"type": "array", "items": {"type": "object"}},
    "next_cursor": {"type": "string", "nullable": true}}},
  "ScheduleList": {"type": "object", "required": ["schedules"], "properties": {
    "schedules": {"type": "array", "items": {"type": "object", "required": ["name", "workflow"]}}}},
  "FormList": {"type": "object", "required": ["forms"], "properties": {
    "forms": {"type": "array", "items": {"type": "object", "required": ["name"]}}}},
  "Health": {"type": "object", "required": ["status"], "properties": {
    "status": {"type": "string"}}}
})json";
// clang-format on

// "POST /api/v1/workflows/{name}/executions" -> "postApiV1WorkflowsByNameExecutions": an
// identifier, as SDK generators name their methods after it (the whole path: the API's
// /api/v1/forms/{name} and the page /forms/{name} are two operations).
std::string operation_id(const Api::Route& r) {
    std::string id = ascii_lower(r.method);
    for (const std::string& part : r.parts) {
        if (part.empty()) continue;
        bool param = part.size() > 2 && part.front() == '{';
        if (param) id += "By";
        std::string word = param ? part.substr(1, part.size() - 2) : part;
        bool upper = true;
        for (char ch : word) {
            if (!std::isalnum(static_cast<unsigned char>(ch))) {
                upper = true;
                continue;
            }
            id += upper ? char(std::toupper(static_cast<unsigned char>(ch))) : ch;
            upper = false;
        }
    }
    return id;
}

std::vector<Api::ResponseDoc> documented_responses(const Api::Route& r) {
    if (!r.doc.responses.empty()) return r.doc.responses;
    bool starts = r.method == "POST" && r.pattern.ends_with("/executions");
    if (starts) return start_responses();
    return {{200, "OK", "", ""}};
}

Value parameter(const Api::ParamDoc& d) {
    Value schema = d.schema.empty() ? Value::dict() : tmpl::value_from_json(d.schema);
    schema.dict_obj().set(str("type"), str(d.type));
    return dict_of({{"name", str(d.name)},
                    {"in", str(d.in)},
                    {"required", Value::boolean(false)},
                    {"description", str(d.description)},
                    {"schema", schema}});
}

// kSchemas, and ExecutionStatus from the list the server checks a status filter against.
Value schemas() {
    Value all = tmpl::value_from_json(kSchemas);
    all.dict_obj().set(str("ExecutionStatus"), tmpl::value_from_json(execution_status_schema()));
    return all;
}

}  // namespace

std::string execution_status_schema() {
    std::string values;
    for (std::string_view status : kExecutionStatuses)
        values += std::string(values.empty() ? "" : ", ") + "\"" + std::string(status) + "\"";
    return R"({"type": "string", "enum": [)" + values + "]}";
}

std::string schema_ref(const char* name) {
    return std::string(R"({"$ref": "#/components/schemas/)") + name + "\"}";
}

Value openapi_document(const Api& api) {
    Value paths = Value::dict();
    for (const Api::Route& r : api.routes()) {
        const Value* existing = paths.dict_obj().find(r.pattern);
        Value item = existing ? *existing : Value::dict();
        Value params = Value::list();
        for (const std::string& part : r.parts) {
            if (part.size() > 2 && part.front() == '{') {
                params.list_obj().items.push_back(
                    dict_of({{"name", str(part.substr(1, part.size() - 2))},
                             {"in", str("path")},
                             {"required", Value::boolean(true)},
                             {"schema", dict_of({{"type", str("string")}})}}));
            }
        }
        for (const Api::ParamDoc& d : r.doc.params)
            params.list_obj().items.push_back(parameter(d));
        Value error_ref = dict_of({{"$ref", str("#/components/responses/Error")}});
        Value responses = Value::dict();
        std::vector<Api::ResponseDoc> answers = documented_responses(r);
        // Every route behind a token answers 401 without one and 403 below its role (one
        // guarded by its resource lists its own).
        if (r.role != Role::None)
            answers.insert(answers.end(), {{401, "", "", ""}, {403, "", "", ""}});
        // Every API route answers 400 for a query parameter it does not read (a typo).
        if (r.pattern.starts_with("/api/v1/") &&
            std::none_of(answers.begin(), answers.end(),
                         [](const Api::ResponseDoc& d) { return d.status == 400; }))
            answers.push_back({400, "", "", ""});
        std::stable_sort(answers.begin(), answers.end(),
                  [](const Api::ResponseDoc& a, const Api::ResponseDoc& b) {
                      return a.status < b.status;
                  });
        for (const Api::ResponseDoc& d : answers) {
            std::string status = std::to_string(d.status);
            if (d.status >= 400 && d.content_type.empty()) {
                responses.dict_obj().set(str(status), error_ref);
                continue;
            }
            Value answer = dict_of({{"description", str(d.description)}});
            if (d.status != 204) {
                Value media = Value::dict();
                if (!d.schema.empty())
                    media.dict_obj().set(str("schema"), tmpl::value_from_json(d.schema));
                Value content = Value::dict();
                content.dict_obj().set(
                    str(d.content_type.empty() ? std::string("application/json") : d.content_type),
                    media);
                answer.dict_obj().set(str("content"), content);
            }
            responses.dict_obj().set(str(status), answer);
        }
        responses.dict_obj().set(str("default"), error_ref);
        Value op = dict_of({{"operationId", str(operation_id(r))},
                            {"summary", str(r.method + " " + r.pattern)},
                            {"parameters", params},
                            {"responses", responses},
                            {"x-ferry-role", str(std::string(to_string(r.role)))}});
        if (!r.role_note.empty()) {
            // Either no credentials (a public resource) or a bearer token.
            op.dict_obj().set(str("x-ferry-role-note"), str(r.role_note));
            op.dict_obj().set(str("security"),
                              Value::list({Value::dict(), dict_of({{"bearer", Value::list()}})}));
        } else if (r.role == Role::None) {
            op.dict_obj().set(str("security"), Value::list());
        } else if (r.method == "GET") {
            // Reads take the token as a Basic password too (a browser asks for it).
            op.dict_obj().set(str("security"), Value::list({dict_of({{"bearer", Value::list()}}),
                                                            dict_of({{"basic", Value::list()}})}));
        }
        if (!r.doc.body_schema.empty()) {
            Value content = Value::dict();
            Value schema = dict_of({{"schema", tmpl::value_from_json(r.doc.body_schema)}});
            content.dict_obj().set(str("application/json"), schema);
            for (const std::string& type : r.doc.other_body_types)
                content.dict_obj().set(str(type), schema);
            op.dict_obj().set(str("requestBody"), dict_of({{"content", content}}));
        }
        item.dict_obj().set(str(ascii_lower(r.method)), op);
        paths.dict_obj().set(str(r.pattern), item);
    }
    Value components = dict_of(
        {{"securitySchemes",
          dict_of({{"bearer", dict_of({{"type", str("http")}, {"scheme", str("bearer")}})},
                   {"basic", dict_of({{"type", str("http")},
                                      {"scheme", str("basic")},
                                      {"description", str("any user name; the token as the "
                                                          "password (reads and form pages)")}})}})},
         {"schemas", schemas()},
         {"responses",
          dict_of(
              {{"Error",
                dict_of({{"description", str("An error")},
                         {"content", dict_of({{"application/json",
                                               dict_of({{"schema", tmpl::value_from_json(schema_ref(
                                                                       "Error"))}})}})}})}})}});
    return dict_of({{"openapi", str("3.0.3")},
                    {"info", dict_of({{"title", str("Ferry API")}, {"version", str("1")}})},
                    {"security", Value::list({dict_of({{"bearer", Value::list()}})})},
                    {"paths", paths},
                    {"components", components}});
}

}  // namespace ferry::engine::server

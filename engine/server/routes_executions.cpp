// Workflows and executions: list and describe workflows, start executions (durably
// acknowledged, idempotent by Idempotency-Key, synchronous with ?wait=), read history.
#include "core/history.h"
#include "core/project.h"
#include "core/values.h"
#include "runtime/crypto.h"
#include "runtime/duration.h"
#include "runtime/ids.h"
#include "runtime/integration/secrets.h"
#include "runtime/timestamp.h"
#include "runtime/utf8.h"
#include "server/api.h"
#include "server/openapi.h"
#include "server/starter.h"
#include "template/environment.h"
#include "workflow/loader.h"

#include <algorithm>
#include <optional>

namespace ferry::engine::server {

namespace {

using tmpl::Value;

Value input_schema(const workflow::InputSpec& in) {
    static const std::map<std::string, std::string> json_type = {
        {"string", "string"},   {"integer", "integer"}, {"number", "number"},
        {"boolean", "boolean"}, {"array", "array"},     {"object", "object"}};
    Value s = Value::dict();
    auto& d = s.dict_obj();
    if (auto it = json_type.find(in.type); it != json_type.end())
        d.set(str("type"), str(it->second));
    if (!in.description.empty()) d.set(str("description"), str(in.description));
    if (in.default_value) d.set(str("default"), *in.default_value);
    if (!in.enum_values.empty()) d.set(str("enum"), Value::list(in.enum_values));
    if (!in.pattern.empty()) d.set(str("pattern"), str(in.pattern));
    if (in.min) d.set(str("minimum"), Value::floating(*in.min));
    if (in.max) d.set(str("maximum"), Value::floating(*in.max));
    bool arr = in.type == "array";
    if (in.min_length) d.set(str(arr ? "minItems" : "minLength"), Value::integer(*in.min_length));
    if (in.max_length) d.set(str(arr ? "maxItems" : "maxLength"), Value::integer(*in.max_length));
    if (in.items) d.set(str("items"), input_schema(*in.items));
    return s;
}

Value workflow_view(const workflow::Workflow& wf, bool detail) {
    Value props = Value::dict();
    Value required = Value::list();
    for (const auto& in : wf.inputs) {
        props.dict_obj().set(str(in.name), input_schema(in));
        if (in.required) required.list_obj().items.push_back(str(in.name));
    }
    Value schema = dict_of({{"type", str("object")},
                            {"properties", props},
                            {"required", required},
                            {"additionalProperties", Value::boolean(false)}});
    Value out = dict_of({{"name", str(wf.name)},
                         {"description", str(wf.description)},
                         {"hash", str(wf.hash)},
                         {"inputs", schema}});
    if (detail) {
        Value steps = Value::list();
        for (const auto& s : wf.steps) {
            Value step = dict_of({{"id", str(s.id)}, {"task", str(s.task)}});
            if (!s.provider.empty()) step.dict_obj().set(str("provider"), str(s.provider));
            if (!s.integration.empty()) step.dict_obj().set(str("integration"), str(s.integration));
            steps.list_obj().items.push_back(step);
        }
        out.dict_obj().set(str("steps"), steps);
    }
    return out;
}

bool safe_name(const std::string& name) {
    return !name.empty() && !engine::Project::is_workflow_path(name) &&
           name.find("..") == std::string::npos;
}

void list_workflows(Api& api, Call& c) {
    Value items = Value::list();
    for (const std::string& rel : api.app().project.list("workflows", {".yaml", ".yml", ".json"})) {
        if (rel.find("/samples/") != std::string::npos) continue;
        std::string stem = rel.substr(rel.rfind('/') + 1);
        stem = stem.substr(0, stem.rfind('.'));
        auto wf = api.app().load_workflow(stem);
        if (!wf) {
            // Answers are JSON: a file name that is not UTF-8 is shown with U+FFFD.
            items.list_obj().items.push_back(dict_of(
                {{"name", str(to_valid_utf8(stem))},
                 {"valid", Value::boolean(false)},
                 {"problems",
                  str(to_valid_utf8(api.app().project.without_folder(wf.error().message)))}}));
            continue;
        }
        items.list_obj().items.push_back(workflow_view(*wf.value(), false));
    }
    c.json(200, to_json_text(dict_of({{"workflows", items}})));
}

void get_workflow(Api& api, Call& c) {
    const std::string& name = c.params["name"];
    if (!safe_name(name)) return c.error(404, "not_found", "no workflow '" + name + "'");
    auto wf = api.app().load_workflow(name);
    if (!wf) {
        return wf.error().kind == ErrorKind::NotFound
                   ? c.error(404, "not_found", wf.error().message)
                   : c.error(422, "invalid_workflow",
                             api.app().project.without_folder(wf.error().message));
    }
    c.json(200, to_json_text(workflow_view(*wf.value(), true)));
}

void start(Api& api, Call& c) {
    const std::string& name = c.params["name"];
    if (!safe_name(name)) return c.error(404, "not_found", "no workflow '" + name + "'");
    // An unknown key is most often an input posted at the top level, which would otherwise
    // be dropped in silence and reported as a missing input.
    std::optional<Value> read =
        object_body(c, {"inputs", "dry_run"},
                    "it takes 'inputs' (an object of the workflow's inputs) and 'dry_run'");
    if (!read) return;
    const Value body = *read;
    StartRequest sr;
    sr.workflow = name;
    if (const Value* in = body.dict_obj().find("inputs")) {
        if (!in->is_dict() && !in->is_none())
            return c.error(422, "invalid_inputs", "'inputs' must be an object");
        if (in->is_dict()) sr.inputs = *in;
    }
    if (const Value* dr = body.dict_obj().find("dry_run")) {
        if (!dr->is_bool())
            return c.error(422, "invalid_request", "'dry_run' must be true or false");
        sr.dry_run = dr->as_bool();
    }
    sr.trigger = "api";
    sr.idempotency_key = c.req.header("idempotency-key");
    sr.wait_ms = c.wait_ms;
    start_execution(api, std::move(sr), std::move(c.res));
}

void list_executions(Api& api, Call& c) {
    // Given but empty (`?status=$S` with S unset) filters nothing: refused, as a name the
    // server does not know is, not answered with every execution.
    for (const char* filter : {"workflow", "status"})
        if (std::optional<std::string> given = c.req.query_param(filter); given && given->empty())
            return c.error(400, "bad_request",
                           std::string(filter) + " is empty: give one or leave it out");
    store::ExecutionFilter f;
    f.workflow = c.req.query_param("workflow").value_or("");
    f.status = c.req.query_param("status").value_or("");
    f.cursor = c.req.query_param("cursor").value_or("");
    if (!f.status.empty()) {
        if (Status s = check_execution_status(f.status); !s)
            return c.error(400, "bad_request", s.error().message);
    }
    for (const char* bound : {"since", "until"}) {
        std::optional<std::string> given = c.req.query_param(bound);
        if (!given) continue;
        Result<uint64_t> t = parse_time_or_age(*given, now_unix_ms());
        if (!t) return c.error(400, "bad_request", std::string(bound) + ": " + t.error().message);
        f.bound(bound == std::string_view("since"), t.value());
    }
    if (f.bounds_crossed())
        return c.error(400, "bad_request",
                       "since must be before until (an age counts back from now: since=2h&"
                       "until=1h)");
    if (!f.cursor.empty() && !is_ulid(f.cursor))
        return c.error(400, "bad_request",
                       "cursor must be an execution id (the next_cursor of a previous page)");
    std::optional<size_t> limit = c.page_limit(f.limit);
    if (!limit) return;
    // Read a few at a time and stop past kListPageBytes: each entry carries its inputs and
    // outputs, and a thousand large ones held at once by clients that never read made
    // hundreds of megabytes. A page cut short says where the next begins, as a full one.
    constexpr size_t kReadAtOnce = 50;
    constexpr size_t kListPageBytes = 4 << 20;
    std::string out = "{\"executions\":[";
    std::string last_id;
    size_t listed = 0;
    bool cut_short = false;
    while (listed < *limit && !cut_short) {
        f.limit = std::min(kReadAtOnce, *limit - listed);
        auto found = api.app().store->list_executions(f);
        if (!found) return c.error(500, "storage", found.error().message);
        for (const std::string& row : found.value()) {
            out += listed ? "," : "";
            out += execution_summary_json(row);
            ++listed;
            Value v = tmpl::value_from_json(row);
            if (const Value* id = v.dict_obj().find("id")) last_id = std::string(id->str());
            if (out.size() >= kListPageBytes && listed < *limit) {
                cut_short = true;
                break;
            }
        }
        if (found->size() < f.limit) break;  // nothing more
        f.cursor = last_id;
    }
    out += "],\"next_cursor\":";
    out += (cut_short || listed == *limit) && !last_id.empty() ? quote(last_id) : "null";
    out += "}";
    c.json(200, out);
}

// The rest of a streamed execution answer, a piece at a time, each read from the store only
// once the one before it has (nearly) left: see get_execution.
struct ExecutionStream : std::enable_shared_from_this<ExecutionStream> {
    ExecutionPieces pieces;
    Responder res;

    ExecutionStream(ExecutionPieces p, Responder r) : pieces(std::move(p)), res(std::move(r)) {}

    void write_next() {
        Result<std::string> piece = pieces.next(ExecutionPieces::kPieceBytes);
        if (!piece) return res.abort();  // incomplete, so that no client takes it for whole
        if (piece.value().empty()) return res.end();
        if (!res.write(piece.value())) return;  // the client left
        res.when_drained([self = shared_from_this()] { self->write_next(); });
    }
};

// An execution whose answer fits one piece goes out whole; a larger one (a for_each over a
// CMDB's items: tens of megabytes) is streamed, chunked, a piece at a time, so that the
// server holds one piece of it, not the whole answer, and other requests are served between
// pieces.
void get_execution(Api& api, Call& c) {
    std::optional<ExecutionPieces> pieces =
        ExecutionPieces::open(*api.app().store, c.params["id"], true);
    if (!pieces) return c.error(404, "not_found", "no execution '" + c.params["id"] + "'");
    std::string first;
    while (first.size() < ExecutionPieces::kPieceBytes) {
        Result<std::string> piece = pieces->next(ExecutionPieces::kPieceBytes);
        if (!piece) return c.error(500, "storage", piece.error().message);
        if (piece.value().empty()) return c.json(200, std::move(first));
        first += piece.value();
    }
    if (!c.res.start_stream(200, {{"Content-Type", "application/json"}})) return;
    if (!c.res.write(first)) return;
    auto stream = std::make_shared<ExecutionStream>(std::move(*pieces), std::move(c.res));
    stream->res.when_drained([stream] { stream->write_next(); });
}

void get_diff(Api& api, Call& c) {
    const std::string& id = c.params["id"];
    auto rec = api.app().store->get_execution(id);
    if (!rec || !rec.value()) return c.error(404, "not_found", "no execution '" + id + "'");
    auto changes = api.app().store->changes(id);
    if (!changes) return c.error(500, "storage", changes.error().message);
    std::string out = "{\"execution_id\":" + quote(id) + ",\"changes\":[";
    for (size_t i = 0; i < changes->size(); ++i)
        out += (i ? "," : "") + changes.value()[i].json;
    c.json(200, out + "]}");
}

void decide(Api& api, Call& c, const std::string& decision) {
    std::string comment;
    std::optional<Value> request = object_body(c, {"comment"}, "it takes 'comment'");
    if (!request) return;
    if (const Value* cm = request->dict_obj().find("comment"); cm && !cm->is_none()) {
        if (!cm->is_string()) return c.error(422, "invalid_request", "'comment' must be a string");
        comment = std::string(cm->str());
    }
    const std::string& id = c.params["id"];
    const std::string& step = c.params["step"];
    Engine::DecideResult s = api.app().engine->decide(id, step, decision, c.caller, comment);
    if (!s.ok()) return c.refused(s);
    // The comment is stored redacted; the answer repeats it as stored.
    std::string body =
        Redactor::instance().redact_json(to_json_text(dict_of({{"execution_id", str(id)},
                                                               {"step", str(step)},
                                                               {"decision", str(decision)},
                                                               {"by", str(c.caller)},
                                                               {"comment", str(comment)}})));
    auto res = std::make_shared<Responder>(std::move(c.res));
    api.app().store->after_commit([res, body] {
        res->send(200, body, {{"Content-Type", "application/json"}});
    });
}

// Cancelling needs this process to be running the execution: one started by another
// process (`ferry run`) is that process's to end.
void cancel(Api& api, Call& c) {
    std::optional<Value> body = object_body(c, {"reason"}, "it takes 'reason'");
    if (!body) return;
    const std::string& id = c.params["id"];
    auto rec = api.app().store->get_execution(id);
    if (!rec) return c.error(500, "storage", rec.error().message);
    if (!rec.value()) return c.error(404, "not_found", "no execution '" + id + "'");
    Value exec = tmpl::value_from_json(*rec.value());
    std::string status = dict_get(exec, "status") ? tmpl::to_str(*dict_get(exec, "status")) : "";
    if (execution_ended(status))
        return c.error(409, "conflict", "execution '" + id + "' already ended (" + status + ")");
    std::string reason = "cancelled by " + c.caller;
    const Value* r = dict_get(*body, "reason");
    if (r && !r->is_none() && !r->is_string())
        return c.error(422, "invalid_request", "'reason' must be a string");
    if (r && r->is_string() && !r->str().empty())
        reason = std::string(r->str()) + " (" + reason + ")";
    Status s = api.app().engine->cancel(id, reason);
    if (!s) return c.error(409, "conflict", s.error().message);
    c.res.send(202, "{\"id\":" + quote(id) + ",\"status\":\"cancelling\"}",
               {{"Content-Type", "application/json"}, {"Location", "/api/v1/executions/" + id}});
}

// A new execution of the same workflow (its current definition) with the same inputs.
void retry(Api& api, Call& c) {
    // A retry repeats the execution's own inputs: it reads no body, and says so.
    if (!object_body(c, {}, "a retry runs with the execution's own inputs and takes none")) return;
    const std::string& id = c.params["id"];
    auto rec = api.app().store->get_execution(id);
    if (!rec) return c.error(500, "storage", rec.error().message);
    if (!rec.value()) return c.error(404, "not_found", "no execution '" + id + "'");
    Value exec = tmpl::value_from_json(*rec.value());
    if (dict_get(exec, "parent"))
        return c.error(409, "conflict",
                       "execution '" + id + "' is a sub-workflow; retry its parent");
    // A retry of one still running or waiting ran the workflow twice at once: a second
    // ticket, with a new idempotency key.
    if (std::string status =
            dict_get(exec, "status") ? tmpl::to_str(*dict_get(exec, "status")) : "";
        !engine::execution_ended(status))
        return c.error(409, "conflict",
                       "execution '" + id + "' has not ended (" + status +
                           "): wait for it, or cancel it, before retrying it");
    StartRequest sr;
    sr.workflow = dict_get(exec, "workflow") ? tmpl::to_str(*dict_get(exec, "workflow")) : "";
    if (const Value* in = dict_get(exec, "inputs"); in && in->is_dict()) sr.inputs = *in;
    // The record keeps a secret as [REDACTED]: a retry would run with that text instead.
    // A record from before the mark (none written) is judged by its text, as then.
    const Value* held = dict_get(exec, "inputs_redacted");
    if (held ? tmpl::truthy(*held) : holds_text(sr.inputs, kRedacted))
        return c.error(409, "conflict",
                       "execution '" + id +
                           "' had an input holding a secret, which its record "
                           "keeps only as [REDACTED]; start a new execution with its inputs");
    if (const Value* dr = dict_get(exec, "dry_run"); dr && dr->is_bool())
        sr.dry_run = dr->as_bool();
    // The execution exists; its workflow may not any more: not the 404 of an unknown id.
    if (auto wf = api.app().load_workflow(sr.workflow);
        !wf && wf.error().kind == ErrorKind::NotFound)
        return c.error(409, "conflict",
                       "execution '" + id + "' ran workflow '" + sr.workflow +
                           "', which is no longer in workflows/: " + wf.error().message);
    sr.trigger = "retry";
    sr.trigger_info = dict_of({{"retry_of", str(id)}});
    sr.idempotency_key = c.req.header("idempotency-key");
    sr.wait_ms = c.wait_ms;
    start_execution(api, std::move(sr), std::move(c.res));
}

}  // namespace

void add_execution_routes(Api& api) {
    Api* a = &api;
    api.add("GET", "/api/v1/workflows", Role::Viewer, [a](Call& c) { list_workflows(*a, c); },
            {{}, "", {}, {{200, "every workflow file", "", schema_ref("WorkflowList")}}});
    api.add("GET", "/api/v1/workflows/{name}", Role::Viewer, [a](Call& c) { get_workflow(*a, c); },
            {{},
             "",
             {},
             {{200, "the workflow, its inputs as a JSON Schema", "", schema_ref("Workflow")},
              {404, "", "", ""},
              {422, "the file does not load (invalid_workflow)", "", ""}}});
    api.add("POST", "/api/v1/workflows/{name}/executions", Role::Operator,
            [a](Call& c) { start(*a, c); },
            {{wait_param(), idempotency_param()}, R"({"type": "object", "properties": {
                "inputs": {"type": "object", "description": "the workflow's inputs"},
                "dry_run": {"type": "boolean", "description": "send nothing; preview requests"}}})"});
    api.add(
        "GET", "/api/v1/executions", Role::Viewer, [a](Call& c) { list_executions(*a, c); },
        {{{"workflow", "query", "string", "only this workflow's executions"},
          {"status", "query", "string", "only those with this status", execution_status_schema()},
          {"since", "query", "string",
           "only those created at or after: a date or time (2026-12-01, "
           "2026-12-01T08:00:00Z) or an age counted back from now (30m, 24h, 7d)"},
          {"until", "query", "string", "only those created before: as since"},
          limit_param(store::ExecutionFilter{}.limit),
          cursor_param("the executions older than it")},
         "",
         {},
         {{200, "newest first", "", schema_ref("ExecutionList")}, {400, "", "", ""}}});
    api.add("GET", "/api/v1/executions/{id}", Role::Viewer, [a](Call& c) { get_execution(*a, c); },
            {{},
             "",
             {},
             {{200, "the execution with its steps and every attempt", "", schema_ref("Execution")},
              {404, "", "", ""}}});
    api.add("GET", "/api/v1/executions/{id}/diff", Role::Viewer, [a](Call& c) { get_diff(*a, c); },
            {{},
             "",
             {},
             {{200, "the changes it recorded", "", schema_ref("Diff")},
              {400, "", "", ""},
              {404, "", "", ""}}});
    const Api::RouteDoc decision{
        {},
        R"({"type": "object", "properties": {"comment": {"type": "string"}}})",
        {},
        {{200, "decided (once durable)", "",
          R"({"type": "object", "properties": {"execution_id": {"type": "string"}, )"
          R"("step": {"type": "string"}, "decision": {"type": "string"}, )"
          R"("by": {"type": "string"}, "comment": {"type": "string"}}})"},
         {400, "", "", ""},
         {403, "", "", ""},
         {404, "", "", ""},
         {409, "", "", ""},
         {422, "", "", ""}}};
    api.add(
        "POST", "/api/v1/executions/{id}/steps/{step}/approve", Role::Operator,
        [a](Call& c) { decide(*a, c, "approved"); }, decision);
    api.add(
        "POST", "/api/v1/executions/{id}/steps/{step}/reject", Role::Operator,
        [a](Call& c) { decide(*a, c, "rejected"); }, decision);
    api.add("POST", "/api/v1/executions/{id}/cancel", Role::Operator,
            [a](Call& c) { cancel(*a, c); },
            {{},
             R"({"type": "object", "properties": {"reason": {"type": "string"}}})",
             {},
             {{202, "cancelling: it ends cancelled", "",
               R"({"type": "object", "properties": {"id": {"type": "string"}, )"
               R"("status": {"type": "string", "enum": ["cancelling"]}}})"},
              {400, "", "", ""},
              {404, "", "", ""},
              {409, "", "", ""},
              {422, "", "", ""}}});
    std::vector<Api::ResponseDoc> retried = start_responses();
    retried.push_back({409,
                       "it has not ended, is a sub-workflow, held a secret input, or its "
                       "workflow is gone",
                       "", ""});
    api.add("POST", "/api/v1/executions/{id}/retry", Role::Operator, [a](Call& c) { retry(*a, c); },
            {{wait_param(), idempotency_param()}, "", {}, retried});
}

}  // namespace ferry::engine::server

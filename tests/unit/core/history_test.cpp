// engine/core/history: the execution JSON users see, spliced from the records' text.
#include "core/history.h"

#include "core/values.h"
#include "template/environment.h"

#include <catch2/catch.hpp>

#include <stdio.h>
#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <optional>

using namespace ferry::engine;
using ferry::tmpl::Value;

namespace {

// What the answer was before it was spliced: the record parsed, the shown fields picked in
// their order and written again.
std::string parsed_and_written(const std::string& record, const std::string& steps_text) {
    Value exec = ferry::tmpl::value_from_json(record);
    Value shown = Value::dict();
    for (const char* k : {"id", "workflow", "status", "dry_run", "trigger", "trigger_info",
                          "inputs", "outputs", "error", "created_at", "finished_at", "parent"})
        if (const Value* v = dict_get(exec, k)) shown.dict_obj().set(str(k), *v);
    std::string text = to_json_text(shown);
    text.pop_back();
    return text + R"(,"steps":)" + steps_text + "}";
}

}  // namespace

TEST_CASE("execution_json: the shown fields in their order, the steps as stored", "[history]") {
    const std::string record =
        R"({"id":"01X","workflow":"wf","definition_hash":"abc","file":"w.yaml","status":"succeeded",)"
        R"("trigger":"hook","dry_run":false,"inputs":{"title":"a \"quoted\"\n\u0001 téxt €",)"
        R"("n":[1,2.5,-0.0,null,true,{"deep":[[]]}],"big":12345678901234},"outputs":{"number":"INC1"},)"
        R"("error":null,"created_at":"2026-12-02T10:00:00.000Z","finished_at":"2026-12-02T10:00:01.000Z",)"
        R"("depth":0,"owner":"tok","trigger_info":{"request_id":"r1"},)"
        R"("parent":{"execution":"01P","step":"s"}})";
    std::vector<ferry::store::KeyedJson> steps = {{"a", R"({"key":"a","output":{"x":1}})"},
                                                  {"b[0]", R"({"key":"b[0]"})"}};
    const std::string steps_text = R"({"a":{"key":"a","output":{"x":1}},"b[0]":{"key":"b[0]"}})";
    std::string got = execution_json(record, steps);
    CHECK(got == parsed_and_written(record, steps_text));
    // Internal fields stay out.
    CHECK(got.find("definition_hash") == std::string::npos);
    CHECK(got.find("owner") == std::string::npos);
    CHECK(got.find("depth") == std::string::npos);
    // The unit is valid JSON with the fields users read.
    Value v = ferry::tmpl::value_from_json(got);
    REQUIRE(v.is_dict());
    CHECK(dict_get(*dict_get(v, "outputs"), "number")->str() == "INC1");
    CHECK(dict_get(*dict_get(v, "steps"), "b[0]"));
}

TEST_CASE("execution_json: missing fields, whitespace and a record that is not an object",
          "[history]") {
    const std::string sparse =
        R"({"status":"running","id":"01Y","workflow":"w","inputs":{"a":[1,2]}})";
    CHECK(execution_json(sparse, {}) == parsed_and_written(sparse, "{}"));
    CHECK(execution_json(sparse, {}) ==
          R"({"id":"01Y","workflow":"w","status":"running","inputs":{"a":[1,2]},"steps":{}})");
    // Records are compact; whitespace (and a ':' in a key) would still be read right.
    const std::string spaced = R"({ "a:b" : 1 , "id" : "01Z" ,"workflow":"w", "status" : "failed",)"
                               R"( "error" : { "message" : "x" } })";
    CHECK(
        execution_json(spaced, {}) ==
        R"({"id":"01Z","workflow":"w","status":"failed","error":{ "message" : "x" },"steps":{}})");
    // Not an object: nothing to show, still JSON.
    CHECK(execution_json("[1,2]", {}) == R"({"steps":{}})");
}

TEST_CASE("execution_json: a record that leads with its shown fields is cut, not read",
          "[history]") {
    // As Engine::persist_execution writes it: the shown fields first, then the internal ones.
    const std::string shown =
        R"({"id":"01W","workflow":"wf","status":"succeeded","dry_run":true,"trigger":"api",)"
        R"("inputs":{"a":"x, \"y\""},"outputs":{"n":1},"error":null,)"
        R"("created_at":"2026-12-02T10:00:00.000Z","finished_at":null)";
    const std::string record = shown + R"(,"definition_hash":"h","file":"f.yaml","depth":0})";
    std::vector<ferry::store::KeyedJson> steps = {{"s", R"({"key":"s"})"}};
    std::string cut = execution_json(record, steps, shown.size());
    CHECK(cut == execution_json(record, steps));  // the same as looking the fields up
    CHECK(cut == shown + R"(,"steps":{"s":{"key":"s"}}})");
    // A length that cannot be right is not trusted.
    CHECK(execution_json(record, steps, record.size() + 1) == cut);
}

TEST_CASE("is_sub_workflow_execution: the record's own parent key, not one in its inputs",
          "[history]") {
    char dir[] = "/tmp/ferry-history-test-XXXXXX";
    REQUIRE(::mkdtemp(dir) != nullptr);
    {
        ferry::store::StoreOptions options;
        options.durable = false;
        auto opened = ferry::store::Store::open(dir, options);
        REQUIRE(opened);
        ferry::store::Store& store = *opened.value();
        store.put_execution("top", "w", "running",
                            R"({"id":"top","workflow":"w","status":"running",)"
                            R"("inputs":{"meta":{"parent":{"execution":"x","step":"y"}}}})");
        store.put_execution("kid", "w", "running",
                            R"({"id":"kid","workflow":"w","status":"running","inputs":{},)"
                            R"("parent":{"execution":"top","step":"s"}})");
        REQUIRE(store.commit());
        CHECK_FALSE(is_sub_workflow_execution(store, "top"));
        CHECK(is_sub_workflow_execution(store, "kid"));
        CHECK_FALSE(is_sub_workflow_execution(store, "none"));
    }
    std::filesystem::remove_all(dir);
}

namespace {

// A throw-away store, removed afterwards.
struct TempStore {
    char dir[40] = "/tmp/ferry-history-test-XXXXXX";
    std::unique_ptr<ferry::store::Store> store;
    TempStore() {
        REQUIRE(::mkdtemp(dir) != nullptr);
        ferry::store::StoreOptions options;
        options.durable = false;
        auto opened = ferry::store::Store::open(dir, options);
        REQUIRE(opened);
        store = std::move(opened.value());
    }
    ~TempStore() {
        store.reset();
        std::filesystem::remove_all(dir);
    }
};

// The answer with attempts as it was built before it was spliced: every record parsed into
// values, the marked attempt filled from its step, all written again.
std::string built_from_values(ferry::store::Store& store, const std::string& id) {
    Value exec = ferry::tmpl::value_from_json(*store.get_execution(id).value());
    Value out = Value::dict();
    for (const char* k : {"id", "workflow", "status", "dry_run", "trigger", "trigger_info",
                          "inputs", "outputs", "error", "created_at", "finished_at", "parent"})
        if (const Value* v = dict_get(exec, k)) out.dict_obj().set(str(k), *v);
    Value steps = Value::dict();
    for (const auto& kj : store.steps(id).value()) {
        Value step = ferry::tmpl::value_from_json(kj.json);
        Value list = Value::list();
        for (const auto& a : store.attempts(id, kj.key).value()) {
            Value attempt = ferry::tmpl::value_from_json(a.json);
            if (const Value* marker = dict_get(attempt, "same_as_step")) {
                Value filled = Value::dict();
                for (const auto& [key, value] : attempt.dict_obj().items()) {
                    if (key.str() != "same_as_step") {
                        filled.dict_obj().set(key, value);
                        continue;
                    }
                    for (const Value& f : marker->list_obj().items) {
                        const Value* v = dict_get(step, f.str());
                        filled.dict_obj().set(f, v ? *v : Value::none());
                    }
                }
                attempt = filled;
            }
            list.list_obj().items.push_back(attempt);
        }
        step.dict_obj().set(str("attempts"), list);
        steps.dict_obj().set(str(kj.key), step);
    }
    out.dict_obj().set(str("steps"), steps);
    return to_json_text(out);
}

// What print_execution_json writes (with attempts).
std::string printed(ferry::store::Store& store, const std::string& id, bool pretty) {
    char* data = nullptr;
    size_t size = 0;
    std::FILE* f = ::open_memstream(&data, &size);
    REQUIRE(f);
    ferry::Status st = print_execution_json(store, id, pretty, true, f);
    std::fclose(f);
    std::string text(data, size);
    std::free(data);
    REQUIRE(st);
    return text;
}

}  // namespace

TEST_CASE("execution_json from the store: attempts spliced in, the marked one filled from its "
          "step",
          "[history]") {
    TempStore t;
    ferry::store::Store& store = *t.store;
    store.put_execution("01E", "wf", "succeeded",
                        R"({"id":"01E","workflow":"wf","status":"succeeded","inputs":{"n":1.50},)"
                        R"("outputs":{"big":123456789012345678901234567890},"depth":0})");
    // Settled after a retry: the first attempt keeps its own input and output, the last
    // names the step's (as Engine::persist_unit writes them).
    store.put_step("01E", "create",
                   R"({"key":"create","status":"succeeded","input":{"t":"a \"q\" é"},)"
                   R"("output":{"number":"INC1","n":[1,2.0,-0.0]},"attempt":2})");
    store.put_attempt("01E", "create", 1,
                      R"({"attempt":1,"status":"failed","input":{"t":"x"},"output":null,)"
                      R"("error":{"kind":"http_5xx","message":"502"}})");
    store.put_attempt("01E", "create", 2,
                      R"({"attempt":2,"status":"succeeded","started_at":"t0",)"
                      R"("same_as_step":["input","output","missing"],"error":null,)"
                      R"("http":[{"status":201}]})");
    store.put_step("01E", "empty", "{}");
    store.put_attempt("01E", "empty", 1, R"({"attempt":1,"same_as_step":["input"]})");
    store.put_step("01E", "pure", R"({"key":"pure","status":"succeeded","output":1})");
    REQUIRE(store.commit());

    std::string got = execution_json(store, "01E", true).value();
    // The same document the values gave, the stored numbers' spelling kept (1.50, a 30-digit
    // integer: values would have turned them into 1.5 and a float).
    Value got_value = ferry::tmpl::value_from_json(got);
    CHECK(to_json_text(got_value) ==
          to_json_text(ferry::tmpl::value_from_json(built_from_values(store, "01E"))));
    CHECK(got.find(R"("n":1.50)") != std::string::npos);
    CHECK(got.find("123456789012345678901234567890") != std::string::npos);
    CHECK(got.find(
              R"("attempts":[{"attempt":1,"status":"failed","input":{"t":"x"},"output":null,)"
              R"("error":{"kind":"http_5xx","message":"502"}},{"attempt":2,"status":"succeeded",)"
              R"("started_at":"t0","input":{"t":"a \"q\" é"},"output":{"number":"INC1",)"
              R"("n":[1,2.0,-0.0]},"missing":null,"error":null,"http":[{"status":201}]}]})") !=
          std::string::npos);
    CHECK(got.find(R"("empty":{"attempts":[{"attempt":1,"input":null}]})") != std::string::npos);
    CHECK(got.find(R"("pure":{"key":"pure","status":"succeeded","output":1,"attempts":[]})") !=
          std::string::npos);

    // Indented, the same document, numbers still as stored.
    std::string pretty = printed(store, "01E", true);
    CHECK(pretty.find("\n  \"steps\": {\n") != std::string::npos);
    CHECK(pretty.find("\"n\": 1.50") != std::string::npos);
    CHECK(to_json_text(ferry::tmpl::value_from_json(pretty)) == to_json_text(got_value));
    CHECK(printed(store, "none", true) == "null");
    CHECK(execution_json(store, "none", true).value() == "null");
    CHECK(printed(store, "01E", false) == got);
}

TEST_CASE("execution_json from the store: a record the splicing cannot take apart is read as "
          "values",
          "[history]") {
    TempStore t;
    ferry::store::Store& store = *t.store;
    store.put_execution("01F", "wf", "failed", R"({"id":"01F","workflow":"wf","status":"failed"})");
    store.put_step("01F", "s", R"({"key":"s","output":{"a":1}})");
    // A marker in an attempt that is not an object the reader can split.
    store.put_attempt("01F", "s", 1, R"([{"same_as_step":["output"]}])");
    store.put_step("01F", "t", R"("not an object")");
    store.put_attempt("01F", "t", 1, R"({"attempt":1})");
    REQUIRE(store.commit());
    std::string got = execution_json(store, "01F", true).value();
    Value v = ferry::tmpl::value_from_json(got);
    REQUIRE(v.is_dict());
    const Value* s = dict_get(*dict_get(v, "steps"), "s");
    REQUIRE(s);
    CHECK(to_json_text(*s) ==
          R"({"key":"s","output":{"a":1},"attempts":[[{"same_as_step":["output"]}]]})");
    CHECK(to_json_text(*dict_get(*dict_get(v, "steps"), "t")) == R"("not an object")");
}

TEST_CASE("print_pretty_json: layout only, across any pieces, and false for what is not JSON",
          "[history]") {
    // The text cut into pieces of `size` bytes, indented into memory; nullopt if refused.
    auto pretty = [](const std::string& text, size_t size) -> std::optional<std::string> {
        size_t at = 0;
        std::function<std::string()> next = [&] {
            std::string piece = text.substr(at, size);
            at += piece.size();
            return piece;
        };
        char* data = nullptr;
        size_t length = 0;
        std::FILE* f = ::open_memstream(&data, &length);
        REQUIRE(f);
        bool ok = print_pretty_json(next, f);
        std::fclose(f);
        std::string out(data, length);
        std::free(data);
        if (!ok) return std::nullopt;
        return out;
    };
    const std::string text = R"({"a":[1,2.50,-0.0],"b":{},"c":"\u00e9\n"})";
    const std::string indented =
        "{\n  \"a\": [\n    1,\n    2.50,\n    -0.0\n  ],\n  \"b\": {},\n  \"c\": \"é\\n\"\n}";
    for (size_t size : {size_t(1), size_t(2), size_t(7), text.size()}) {
        INFO("pieces of " << size);
        CHECK(pretty(text, size) == indented);
        CHECK_FALSE(pretty("{\"a\":", size));
        CHECK_FALSE(pretty("[1] x", size));
    }
    CHECK_FALSE(pretty("", 1));
}

namespace {

// An execution of n steps "s0000".."s{n-1}", each with one attempt (the last one marked).
void put_steps(ferry::store::Store& store, const std::string& id, int n) {
    store.put_execution(id, "wf", "succeeded",
                        R"({"id":")" + id + R"(","workflow":"wf","status":"succeeded"})");
    for (int i = 0; i < n; ++i) {
        char key[16];
        std::snprintf(key, sizeof key, "s%04d", i);
        store.put_step(id, key,
                       R"({"key":")" + std::string(key) + R"(","output":{"i":)" +
                           std::to_string(i) + "}}");
        store.put_attempt(id, key, 1, R"({"attempt":1,"same_as_step":["output"]})");
    }
    REQUIRE(store.commit());
}

// Every piece of the execution's text.
std::vector<std::string> all_pieces(ferry::store::Store& store, const std::string& id,
                                    bool with_attempts, size_t max_bytes) {
    std::optional<ExecutionPieces> pieces = ExecutionPieces::open(store, id, with_attempts);
    REQUIRE(pieces);
    std::vector<std::string> out;
    for (int bound = 0; bound < 10000; ++bound) {
        auto piece = pieces->next(max_bytes);
        REQUIRE(piece);
        if (piece.value().empty()) break;
        out.push_back(piece.value());
    }
    CHECK(pieces->next(max_bytes).value().empty());  // and stays so
    return out;
}

std::string joined(const std::vector<std::string>& pieces) {
    std::string text;
    for (const auto& p : pieces)
        text += p;
    return text;
}

}  // namespace

TEST_CASE("ExecutionPieces: the execution a page of steps at a time, joined the whole answer",
          "[history]") {
    TempStore t;
    ferry::store::Store& store = *t.store;
    const int n = int(StepRecords::kPage) * 3 + 5;
    put_steps(store, "01G", n);

    // The smallest pieces: the head, a step each, the end; joined, the answer.
    std::vector<std::string> small = all_pieces(store, "01G", true, 1);
    REQUIRE(small.size() == size_t(n) + 2);
    CHECK(small[0] == R"({"id":"01G","workflow":"wf","status":"succeeded","steps":{)");
    CHECK(small.back() == "}}");
    std::string whole = joined(small);
    CHECK(whole == execution_json(store, "01G", true).value());
    CHECK(whole == printed(store, "01G", false));
    CHECK(to_json_text(ferry::tmpl::value_from_json(whole)) ==
          to_json_text(ferry::tmpl::value_from_json(built_from_values(store, "01G"))));
    CHECK(small[1].rfind(R"("s0000":{"key":"s0000")", 0) == 0);  // no comma before the first
    CHECK(small[2].rfind(R"(,"s0001":{)", 0) == 0);
    CHECK(small[n].rfind(R"(,"s0196":{)", 0) == 0);
    // Pieces of some steps each, whole steps: the same text.
    std::vector<std::string> some = all_pieces(store, "01G", true, 1000);
    CHECK(some.size() > 3);
    CHECK(some.size() < small.size() / 4);
    CHECK(joined(some) == whole);
    // Indented as it is read, across the pieces: the same document.
    CHECK(to_json_text(ferry::tmpl::value_from_json(printed(store, "01G", true))) ==
          to_json_text(ferry::tmpl::value_from_json(whole)));

    // Large pieces: everything in one.
    std::vector<std::string> large = all_pieces(store, "01G", true, size_t(1) << 30);
    CHECK(large.size() == 1);
    CHECK(joined(large) == whole);

    // Without attempts, the stored step records as they are.
    std::string plain = joined(all_pieces(store, "01G", false, 1));
    Value v = ferry::tmpl::value_from_json(plain);
    REQUIRE(v.is_dict());
    CHECK(dict_get(*dict_get(v, "steps"), "s0100")->dict_obj().find("attempts") == nullptr);
    CHECK(dict_get(*dict_get(v, "steps"), "s0100")->dict_obj().size() == 2);
    CHECK(dict_get(*dict_get(v, "steps"), "s0000"));
    CHECK(dict_get(*dict_get(v, "steps"), "s0196"));
}

TEST_CASE("StepRecords: a page at a time, in key order, to the end", "[history]") {
    TempStore t;
    ferry::store::Store& store = *t.store;
    put_steps(store, "01H", 5);
    put_steps(store, "01J", 4);
    put_steps(store, "01I", 0);
    auto keys = [&](const std::string& id, size_t page) {
        StepRecords records(store, id, page);
        std::vector<std::string> out;
        for (int bound = 0; bound < 100; ++bound) {
            ferry::Result<const ferry::store::KeyedJson*> r = records.next();
            REQUIRE(r);
            if (!r.value()) break;
            out.push_back(r.value()->key);
        }
        CHECK(records.next().value() == nullptr);  // and stays so
        return out;
    };
    using Keys = std::vector<std::string>;
    CHECK(keys("01H", 2) == Keys{"s0000", "s0001", "s0002", "s0003", "s0004"});
    CHECK(keys("01H", 64) == Keys{"s0000", "s0001", "s0002", "s0003", "s0004"});
    CHECK(keys("01J", 2) == Keys{"s0000", "s0001", "s0002", "s0003"});  // full last page
    CHECK(keys("01J", 1) == Keys{"s0000", "s0001", "s0002", "s0003"});
    CHECK(keys("01I", 2).empty());
    CHECK(keys("nope", 2).empty());
}

TEST_CASE("ExecutionPieces: no steps, no execution", "[history]") {
    TempStore t;
    ferry::store::Store& store = *t.store;
    put_steps(store, "01I", 0);
    CHECK(joined(all_pieces(store, "01I", true, 1)) ==
          R"({"id":"01I","workflow":"wf","status":"succeeded","steps":{}})");
    CHECK(joined(all_pieces(store, "01I", true, 1 << 20)) ==
          R"({"id":"01I","workflow":"wf","status":"succeeded","steps":{}})");
    CHECK_FALSE(ExecutionPieces::open(store, "nope", true));
}

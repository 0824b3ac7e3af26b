// engine/core/history: the execution JSON users see, spliced from the records' text.
#include "core/history.h"

#include "core/values.h"
#include "template/environment.h"

#include <catch2/catch.hpp>

#include <stdlib.h>

#include <filesystem>

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

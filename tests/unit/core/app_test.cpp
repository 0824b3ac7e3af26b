// engine/core: an App destroyed while an execution is still running.
#include "core/app.h"
#include "core/values.h"
#include "template/value.h"
#include "workflow/loader.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <stdlib.h>

using namespace ferry;

namespace {

// A project folder with the given files, removed afterwards.
struct TempProject {
    std::filesystem::path dir;
    explicit TempProject(const std::vector<std::pair<std::string, std::string>>& files) {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "ferry-core-test-XXXXXX").string();
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        dir = pattern;
        for (const auto& [rel, text] : files) {
            std::filesystem::create_directories((dir / rel).parent_path());
            std::ofstream(dir / rel, std::ios::binary) << text;
        }
    }
    ~TempProject() {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
};

// An App on the project; any problem fails the test.
std::unique_ptr<engine::App> open_app(const TempProject& project) {
    engine::AppOptions options;
    options.project_dir = project.dir.string();
    std::vector<workflow::Diagnostic> problems;
    auto app = engine::App::open(options, problems);
    REQUIRE(app);
    REQUIRE(problems.empty());
    return std::move(app.value());
}

// Starts the workflow without inputs; its execution id.
std::string start_workflow(engine::App& app, const std::string& name,
                           std::function<void(const engine::ExecutionSummary&)> done) {
    auto wf = app.load_workflow(name);
    REQUIRE(wf);
    auto inputs = workflow::resolve_inputs(*wf.value(), tmpl::value_from_json("{}"));
    REQUIRE(inputs);
    auto id =
        app.engine->start(wf.value(), inputs.value(), engine::StartOptions{}, std::move(done));
    REQUIRE(id);
    return id.value();
}

}  // namespace

TEST_CASE("an App destroyed while a hook task runs ends that task first", "[core][app]") {
    // The hook parks in ferry.sleep; destroying the App then has to end the task while the
    // engine its done callback calls into still exists. Before the engine tracked hook tasks,
    // the scheduler's destructor ran that callback after the engine's: a use-after-free that
    // the sanitizer build of this test reports.
    TempProject project({
        {"workflows/hooked.yaml", "hooks: {before_step: hooks/slow.lua}\n"
                                  "steps:\n  - {id: a, task: log, with: {message: hi}}\n"},
        {"tasks/hooks/slow.lua",
         "return function(ctx, event)\n  ferry.sleep('30s')\n  return event\nend\n"},
    });
    auto app = open_app(project);
    bool finished = false;
    start_workflow(*app, "hooked", [&](const engine::ExecutionSummary&) { finished = true; });
    for (int i = 0; i < 1000 && app->scheduler.parked_tasks() == 0; ++i)
        app->loop.run_once(true);
    REQUIRE(app->scheduler.parked_tasks() == 1);
    CHECK(app->engine->active_executions() == 1);

    app.reset();
    CHECK_FALSE(finished);  // ended by the shutdown, not finished: it resumes at the next start
}

TEST_CASE("load_workflow parses a file once, and again when it changes", "[core][app]") {
    TempProject project(std::vector<std::pair<std::string, std::string>>{
        {"workflows/w.yaml", "steps:\n  - {id: a, task: log, with: {message: one}}\n"}});
    auto app = open_app(project);
    auto first = app->load_workflow("w");
    REQUIRE(first);
    auto again = app->load_workflow("w");
    REQUIRE(again);
    CHECK(again.value() == first.value());  // the same parse, not a new one

    // A longer file (another size, whatever the clock's resolution): the next start sees it.
    std::ofstream(project.dir / "workflows/w.yaml", std::ios::binary)
        << "steps:\n  - {id: a, task: log, with: {message: one}}\n"
           "  - {id: b, task: log, with: {message: two}}\n";
    auto edited = app->load_workflow("w");
    REQUIRE(edited);
    CHECK(edited.value()->steps.size() == 2);

    // Broken now: the error names the file, and the old parse is not served instead.
    std::ofstream(project.dir / "workflows/w.yaml", std::ios::binary) << "steps: [\n";
    auto broken = app->load_workflow("w");
    REQUIRE_FALSE(broken);
    CHECK(broken.error().message.find("w.yaml") != std::string::npos);

    // Gone: not found.
    std::filesystem::remove(project.dir / "workflows/w.yaml");
    auto gone = app->load_workflow("w");
    REQUIRE_FALSE(gone);
    CHECK(gone.error().kind == ErrorKind::NotFound);
}

TEST_CASE("a workflow reference is a path only when it looks like one", "[core][app]") {
    CHECK(engine::Project::is_workflow_path("./deploy"));
    CHECK(engine::Project::is_workflow_path("flows/deploy"));
    CHECK(engine::Project::is_workflow_path("deploy.yaml"));
    CHECK(engine::Project::is_workflow_path("deploy.yml"));
    CHECK(engine::Project::is_workflow_path("deploy.json"));
    CHECK_FALSE(engine::Project::is_workflow_path("deploy"));
    CHECK_FALSE(engine::Project::is_workflow_path(".yaml"));  // a name, if an odd one
    CHECK_FALSE(engine::Project::is_workflow_path("deploy.yaml.bak"));

    TempProject project(std::vector<std::pair<std::string, std::string>>{
        {"workflows/w.yaml", "steps:\n  - {id: a, task: log, with: {message: one}}\n"},
        // Named like the workflow, in the directory ferry runs in: must not shadow it.
        {"w", "steps:\n  - {id: a, task: log, with: {message: one}}\n"
              "  - {id: b, task: log, with: {message: two}}\n"},
        {"other/x.yaml", "steps:\n  - {id: x, task: log, with: {message: x}}\n"}});
    auto app = open_app(project);
    std::filesystem::path was = std::filesystem::current_path();
    std::filesystem::current_path(project.dir);
    auto by_name = app->load_workflow("w");
    auto by_path = app->load_workflow("./w");
    auto by_extension = app->load_workflow("other/x.yaml");
    auto missing_path = app->load_workflow("nope.yaml");
    auto name_as_path = app->load_workflow("w.yaml");  // meant: the project's workflows/w.yaml
    std::filesystem::current_path(was);
    REQUIRE(by_name);
    CHECK(by_name.value()->steps.size() == 1);
    REQUIRE(by_path);
    CHECK(by_path.value()->steps.size() == 2);
    REQUIRE(by_extension);
    CHECK(by_extension.value()->steps.front().id == "x");
    REQUIRE_FALSE(missing_path);
    CHECK(missing_path.error().kind == ErrorKind::NotFound);
    CHECK(missing_path.error().message ==
          "cannot read workflow file 'nope.yaml': No such file or directory");
    REQUIRE_FALSE(name_as_path);
    CHECK(name_as_path.error().message ==
          "cannot read workflow file 'w.yaml': No such file or directory (a name without the "
          "extension finds the project's workflows/w.yaml: ferry run w)");
}

TEST_CASE("a chain of pure steps shares one commit, a step with effects waits for it",
          "[core][app]") {
    // Pure steps (transform) run as soon as what they read is staged: three of them and the
    // "running" record of the step after them go out in one commit. That step has an effect
    // (it parks in ferry.sleep here), so it starts only once the commit carrying every result
    // it depends on is durable.
    TempProject project({
        {"workflows/chain.yaml",
         "steps:\n"
         "  - {id: a, task: transform, with: {data: {n: 1}, mappings: [{source: n, target: n}]}}\n"
         "  - {id: b, task: transform, with: {data: '{{ steps.a.output }}',"
         " mappings: [{source: n, target: m}]}}\n"
         "  - {id: c, task: transform, with: {data: '{{ steps.b.output }}',"
         " mappings: [{source: m, target: k}]}}\n"
         "  - {id: d, task: custom.effect, needs: [c]}\n"},
        {"tasks/custom/effect.lua", "return {name = 'custom.effect', run = function(ctx, input)\n"
                                    "  ferry.sleep('30s')\n  return {}\nend}\n"},
    });
    auto app = open_app(project);
    const uint64_t commits_before = app->store->commits();
    const std::string id = start_workflow(*app, "chain", [](const engine::ExecutionSummary&) {});
    for (int i = 0; i < 1000 && app->scheduler.parked_tasks() == 0; ++i)
        app->loop.run_once(true);
    REQUIRE(app->scheduler.parked_tasks() == 1);
    CHECK(app->store->commits() - commits_before == 1);

    auto steps = app->store->steps(id);
    REQUIRE(steps);
    std::map<std::string, std::string> status;
    for (const auto& step : steps.value()) {
        const tmpl::Value record = tmpl::value_from_json(step.json);
        const tmpl::Value* s = engine::dict_get(record, "status");
        status[step.key] = s ? tmpl::to_str(*s) : "(none)";
    }
    CHECK(status ==
          std::map<std::string, std::string>{
              {"a", "succeeded"}, {"b", "succeeded"}, {"c", "succeeded"}, {"d", "running"}});
}

TEST_CASE("execution.finished reaches staging listeners with the final record, the others "
          "once it is durable",
          "[core][app]") {
    // The event outbox stages each delivery beside the records its event reports. When
    // execution.finished came only after the final commit, the outbox entry went to the next
    // commit: a kill -9 between the two lost the event for good.
    TempProject project(std::vector<std::pair<std::string, std::string>>{
        {"workflows/w.yaml", "steps:\n  - {id: a, task: log, with: {message: hi}}\n"}});
    auto app = open_app(project);
    std::string id;
    std::vector<std::string> heard;  // "staged TYPE STATUS-IN-STORE" / "told TYPE ..."
    auto stored_status = [&]() -> std::string {
        auto rec = app->store->get_execution(id);
        REQUIRE(rec);
        if (!rec.value()) return "none";
        const tmpl::Value record = tmpl::value_from_json(*rec.value());
        const tmpl::Value* status = engine::dict_get(record, "status");
        return status ? tmpl::to_str(*status) : "?";
    };
    app->engine->on_event_staged([&](const engine::EngineEvent& e) {
        if (e.type == "execution.finished" || e.type == "step.finished")
            heard.push_back("staged " + e.type + " " + stored_status() + " " + e.status +
                            (app->store->has_pending() ? " pending" : ""));
    });
    app->engine->on_event([&](const engine::EngineEvent& e) {
        if (e.type == "execution.finished" || e.type == "step.finished")
            heard.push_back("told " + e.type + " " + stored_status() + " " + e.status);
    });
    bool finished = false;
    id = start_workflow(*app, "w", [&](const engine::ExecutionSummary&) { finished = true; });
    for (int i = 0; i < 1000 && !finished; ++i)
        app->loop.run_once(true);
    REQUIRE(finished);
    // A pure step runs ahead of the disk: nothing of the execution is durable until its end.
    CHECK(heard == std::vector<std::string>{
                       "staged step.finished none succeeded pending",
                       "told step.finished none succeeded",
                       "staged execution.finished none succeeded pending",
                       "told execution.finished succeeded succeeded",
                   });
}

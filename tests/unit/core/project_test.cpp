// engine/core Project: where a workflow named on a start is found, and how messages name it.
// (Workflows are not among the files built into the binary, so these are all project files.)
#include "core/project.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <stdlib.h>
#include <unistd.h>

using namespace ferry;
using engine::Project;
namespace fs = std::filesystem;

namespace {

struct TempDir {
    fs::path dir;
    TempDir() {
        std::string pattern = (fs::temp_directory_path() / "ferry-project-test-XXXXXX").string();
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        dir = pattern;
        fs::create_directories(dir / "workflows");
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
    void write(const std::string& rel, const std::string& text) const {
        std::ofstream(dir / rel, std::ios::binary) << text;
    }
};

Project open(const std::string& dir) {
    Result<Project> p = Project::open(dir);
    REQUIRE(p.ok());
    return std::move(p.value());
}

}  // namespace

TEST_CASE("locate_workflow: the project's file by name, named as a normal path", "[project]") {
    TempDir t;
    t.write("workflows/mine.yml", "name: mine\n");
    // The folder as a user may type it: a trailing slash and a "." component.
    for (std::string given : {t.dir.string(), t.dir.string() + "/", t.dir.string() + "/./"}) {
        Project p = open(given);
        auto at = p.locate_workflow("mine");
        REQUIRE(at);
        CHECK_FALSE(at->built_in);
        CHECK(at->origin == (t.dir / "workflows" / "mine.yml").string());
        CHECK(fs::equivalent(at->path, t.dir / "workflows" / "mine.yml"));
        CHECK(at->stamp != 0);
        auto found = p.find_workflow("mine");
        REQUIRE(found.ok());
        CHECK(found.value().first == at->origin);
        CHECK(found.value().second == "name: mine\n");
    }
}

TEST_CASE("locate_workflow: a relative project folder, and a file that changes", "[project]") {
    TempDir t;
    t.write("workflows/w.yaml", "name: w\n");
    std::string cwd = fs::current_path().string();
    REQUIRE(::chdir(t.dir.c_str()) == 0);
    Project p = open("./.");
    auto at = p.locate_workflow("w");
    REQUIRE(::chdir(cwd.c_str()) == 0);
    REQUIRE(at);
    CHECK(at->origin == "workflows/w.yaml");

    Project abs = open(t.dir.string());
    auto before = abs.locate_workflow("w");
    REQUIRE(before);
    t.write("workflows/w.yaml", "name: w\ndescription: longer now\n");
    auto after = abs.locate_workflow("w");
    REQUIRE(after);
    CHECK(after->stamp != before->stamp);
    CHECK(after->origin == before->origin);
}

TEST_CASE("locate_workflow: .yaml before .yml before .json, unknown names are none", "[project]") {
    TempDir t;
    Project p = open(t.dir.string());
    t.write("workflows/w.json", "{}");
    auto json = p.locate_workflow("w");
    REQUIRE(json);
    CHECK(json->origin == (t.dir / "workflows" / "w.json").string());
    t.write("workflows/w.yml", "name: w\n");
    t.write("workflows/w.yaml", "name: w\n");
    auto yaml = p.locate_workflow("w");
    REQUIRE(yaml);
    CHECK_FALSE(yaml->built_in);
    CHECK(yaml->origin == (t.dir / "workflows" / "w.yaml").string());

    CHECK_FALSE(p.locate_workflow("no-such-workflow"));
    auto missing = p.find_workflow("no-such-workflow");
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().kind == ErrorKind::NotFound);
    CHECK(missing.error().message.find("known: w") != std::string::npos);
}

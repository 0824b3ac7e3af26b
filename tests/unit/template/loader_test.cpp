// The loaders (tests/unit/template mirrors engine/template/environment.cpp's loaders): the
// search path as a security boundary, and templates parsed again when their file changes.
#include "template/environment.h"
#include "template/json_value.h"
#include "template/value.h"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

using namespace ferry::tmpl;

namespace {

// A scratch folder for FileSystemLoader tests, removed afterwards.
struct TempDir {
    std::filesystem::path path;
    TempDir() {
        std::string tmpl =
            (std::filesystem::temp_directory_path() / "ferry-render-test-XXXXXX").string();
        char* made = ::mkdtemp(tmpl.data());
        REQUIRE(made != nullptr);
        path = made;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    void write(const std::string& name, const std::string& text) const {
        auto p = path / name;
        std::filesystem::create_directories(p.parent_path());
        std::ofstream(p, std::ios::binary) << text;
    }
    // Replaced (a new inode), as editors and deploys write files.
    void replace(const std::string& name, const std::string& text) const {
        write(name + ".new", text);
        std::filesystem::rename(path / (name + ".new"), path / name);
    }
    // A loader of this folder alone.
    std::shared_ptr<FileSystemLoader> loader() const {
        return std::make_shared<FileSystemLoader>(std::vector<std::string>{path.string()});
    }
};

}  // namespace

// ---- FileSystemLoader: the search path is a security boundary ------------------------------

TEST_CASE("render: FileSystemLoader loads files below its folder", "[render][loader]") {
    TempDir dir;
    dir.write("main.j2", "A{% include 'sub/part.j2' %}{% include './sub/part.j2' %}\r\n");
    dir.write("sub/part.j2", "[{{ x }}]\n");
    Environment env(dir.loader());
    auto r = env.render("main.j2", value_from_json(R"({"x": 1})"));
    REQUIRE(r);
    CHECK(r.value() == "A[1][1]");

    // Several folders are searched in order.
    TempDir second;
    second.write("only-here.j2", "second");
    second.write("main.j2", "shadowed");
    Environment both(std::make_shared<FileSystemLoader>(
        std::vector<std::string>{dir.path.string(), second.path.string()}));
    auto r2 = both.render("only-here.j2", Value::dict());
    REQUIRE(r2);
    CHECK(r2.value() == "second");
    auto r3 = both.render("main.j2", value_from_json(R"({"x": 2})"));
    REQUIRE(r3);
    CHECK(r3.value() == "A[2][2]");

    auto missing = env.render("nope.j2", Value::dict());
    REQUIRE_FALSE(missing);
    CHECK(missing.error().kind() == ErrorKind::NotFound);
}

TEST_CASE("render: template names may not leave the search path", "[render][loader][security]") {
    TempDir root;
    root.write("outside.j2", "SECRET");
    root.write("tpl/ok.j2", "ok");
    root.write("tpl/up.j2", "{% include '../outside.j2' %}");
    root.write("tpl/up2.j2", "{% include 'sub/../../outside.j2' %}");
    root.write("tpl/abs.j2", "{% include '" + (root.path / "outside.j2").string() + "' %}");
    root.write("tpl/imp.j2", "{% import '../outside.j2' as x %}");
    root.write("tpl/ext.j2", "{% extends '../outside.j2' %}");
    Environment env(
        std::make_shared<FileSystemLoader>(std::vector<std::string>{(root.path / "tpl").string()}));

    for (const char* name : {"up.j2", "up2.j2", "abs.j2", "imp.j2", "ext.j2"}) {
        INFO(name);
        auto r = env.render(name, Value::dict());
        REQUIRE_FALSE(r);
        CHECK(r.error().kind() == ErrorKind::Security);
        CHECK(r.error().where().file == name);
        CHECK(r.error().where().line == 1);
    }
    // Asking the environment directly is refused too.
    auto direct = env.render("../outside.j2", Value::dict());
    REQUIRE_FALSE(direct);
    CHECK(direct.error().kind() == ErrorKind::Security);
    // `ignore missing` does not hide a security error.
    root.write("tpl/ign.j2", "{% include '../outside.j2' ignore missing %}");
    auto ign = env.render("ign.j2", Value::dict());
    REQUIRE_FALSE(ign);
    CHECK(ign.error().kind() == ErrorKind::Security);

    // A symlink inside the folder that points outside it is refused as well.
    std::error_code ec;
    std::filesystem::create_symlink(root.path / "outside.j2", root.path / "tpl" / "link.j2", ec);
    if (!ec) {
        root.write("tpl/via-link.j2", "{% include 'link.j2' %}");
        auto l = env.render("via-link.j2", Value::dict());
        REQUIRE_FALSE(l);
        CHECK(l.error().kind() == ErrorKind::Security);
    }
    auto ok = env.render("ok.j2", Value::dict());
    REQUIRE(ok);
    CHECK(ok.value() == "ok");
}

// ---- Templates whose files change ------------------------------------------------------------

TEST_CASE("render: a template whose file changed is parsed again (Jinja2's auto_reload)",
          "[render][loader]") {
    TempDir dir;
    dir.write("t.j2", "v1 {{ x }}");
    dir.write("macros.j2", "{% macro m() %}m1{% endmacro %}");
    dir.write("uses.j2", "{% import 'macros.j2' as k %}{{ k.m() }}");
    Environment env(dir.loader());
    auto vars = value_from_json(R"({"x": 1})");
    REQUIRE(env.render("t.j2", vars).value() == "v1 1");
    REQUIRE(env.render("uses.j2", Value::dict()).value() == "m1");
    auto first = env.get_template("t.j2");
    CHECK(env.get_template("t.j2") == first);  // unchanged: the parsed one is kept

    // Replaced with a longer text.
    dir.replace("t.j2", "version 2 {{ x }}");
    dir.replace("macros.j2", "{% macro m() %}macro 2{% endmacro %}");
    CHECK(env.render("t.j2", vars).value() == "version 2 1");
    // An imported module is made again from the new file (its cache entry went with it).
    CHECK(env.render("uses.j2", Value::dict()).value() == "macro 2");

    // Deleted: not found, as a fresh Environment would say.
    std::filesystem::remove(dir.path / "t.j2");
    auto gone = env.render("t.j2", vars);
    REQUIRE_FALSE(gone);
    CHECK(gone.error().kind() == ErrorKind::NotFound);
}

TEST_CASE("render: a module a cached module imported stays while it is held", "[render][loader]") {
    // As in Jinja2: main's import of a is cached, and a's module holds the b it imported,
    // so an edit of b alone shows once a is parsed again. The old b's module is retired
    // but not cleared while a's holds it (clearing it broke a's macros).
    TempDir dir;
    dir.write("main.j2", "{% import 'a.j2' as a %}{{ a.f() }}");
    dir.write("a.j2", "{% import 'b.j2' as b %}{% macro f() %}[{{ b.g() }}]{% endmacro %}");
    dir.write("b.j2", "{% macro g() %}b1{% endmacro %}");
    Environment env(dir.loader());
    REQUIRE(env.render("main.j2", Value::dict()).value() == "[b1]");
    dir.replace("b.j2", "{% macro g() %}b2{% endmacro %}");
    CHECK(env.render("main.j2", Value::dict()).value() == "[b1]");
    CHECK(env.render("main.j2", Value::dict()).value() == "[b1]");
    dir.replace("a.j2", "{% import 'b.j2' as b %}{% macro f() %}({{ b.g() }}){% endmacro %}");
    CHECK(env.render("main.j2", Value::dict()).value() == "(b2)");
    for (int i = 0; i < 3; ++i) {  // retired modules freed between renders, none in use
        dir.replace("b.j2", "{% macro g() %}b" + std::to_string(3 + i) + "{% endmacro %}");
        dir.replace("a.j2", "{% import 'b.j2' as b %}{% macro f() %}<" + std::to_string(i) +
                                "{{ b.g() }}>{% endmacro %}");
        CHECK(env.render("main.j2", Value::dict()).value() ==
              "<" + std::to_string(i) + "b" + std::to_string(3 + i) + ">");
    }
}

TEST_CASE("render: a cached module keeps the template its import was parsed from",
          "[render][loader]") {
    // main imports mod itself (parsed again once edited) and lib, whose cached module
    // holds the mod it imported: lib's macros must go on reading that one, as in Jinja2.
    TempDir dir;
    dir.write("mod.j2", "{% macro greet(who) %}hello {{ who }}{% endmacro %}");
    dir.write("lib.j2",
              "{% import 'mod.j2' as m %}{% macro hello(who) %}[{{ m.greet(who) }}]{% endmacro %}");
    dir.write("main.j2", "{% import 'mod.j2' as fresh %}{% import 'lib.j2' as l %}"
                         "{{ l.hello('ops') }}{{ fresh.greet('x') }}");
    Environment env(dir.loader());
    REQUIRE(env.render("main.j2", Value::dict()).value() == "[hello ops]hello x");
    dir.replace("mod.j2", "{% set pad = '" + std::string(3000, 'x') +
                              "' %}{% macro greet(who) %}hi {{ who }}{% endmacro %}");
    CHECK(env.render("main.j2", Value::dict()).value() == "[hello ops]hi x");
    CHECK(env.render("main.j2", Value::dict()).value() == "[hello ops]hi x");
}

TEST_CASE("render: a project template added later shadows the fallback it was read from",
          "[render][loader]") {
    TempDir project;
    Environment env(std::make_shared<ChoiceLoader>(std::vector<std::shared_ptr<const Loader>>{
        std::make_shared<FileSystemLoader>(std::vector<std::string>{project.path.string()}),
        std::make_shared<MapLoader>(std::map<std::string, std::string>{{"t.j2", "built-in"}})}));
    REQUIRE(env.render("t.j2", Value::dict()).value() == "built-in");
    project.write("t.j2", "project's own");
    CHECK(env.render("t.j2", Value::dict()).value() == "project's own");
    std::filesystem::remove(project.path / "t.j2");
    CHECK(env.render("t.j2", Value::dict()).value() == "built-in");
}

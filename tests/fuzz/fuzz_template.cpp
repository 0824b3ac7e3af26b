// Fuzz target: the template engine's whole input surface. The input is a template's source;
// it is parsed and rendered (lenient, then strict) over data with every kind of value, next
// to templates it can include, import and extend. Any outcome but a crash, a sanitizer
// report or an exception other than TemplateError is fine: errors are values.
#include "template/environment.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>

using namespace ferry::tmpl;

namespace {

const char* const kVars = R"({
  "title": "Orders API down <b>&</b>", "severity": "HIGH", "count": 3, "ratio": 0.25,
  "big": 9223372036854775807, "neg": -17, "flag": true, "none": null,
  "tags": ["db", "eu", "Zürich", ""], "nums": [3, 1, 2, 1.5, -4],
  "items": [{"name": "a", "v": 1}, {"name": "b", "v": null}, {"name": "c", "v": [1, 2]}],
  "record": {"sys_id": "abc", "number": "INC1", "nested": {"deep": {"deeper": [1, {"x": "y"}]}}},
  "empty": {}, "blank": [], "text": "line one\nline two\ttab \u00e9\u4e2d\ud83d\ude00"
})";

const std::map<std::string, std::string> kLibrary = {
    {"lib", "{% macro m(a, b=2) %}[{{ a }}|{{ b }}|{{ caller() if caller }}]{% endmacro %}"
            "{% set exported = 'x' %}"},
    {"base", "<{% block head %}H{% endblock %}|{% block body scoped %}B{% endblock %}>"},
    {"inc", "{{ title|default('none') }}"},
};

void render_with(bool strict, const std::string& source, const Value& vars) {
    auto templates = kLibrary;
    templates["main"] = source;
    RenderOptions options;
    options.strict = strict;
    options.max_output = 1 << 20;
    options.max_render_ms = 2000;
    Environment env(std::make_shared<MapLoader>(std::move(templates)), options);
    auto result = env.render("main", vars);
    if (!result) (void)result.error().describe();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const Value vars = value_from_json(kVars);
    std::string source(reinterpret_cast<const char*>(data), size);
    render_with(false, source, vars);
    render_with(true, source, vars);
    return 0;
}

#include "core/catalog.h"

#include "core/values.h"
#include "runtime/json_lua.h"
#include "runtime/json_repeats.h"
#include "runtime/utf8.h"
#include "workflow/loader_internal.h"
#include "workflow/project_config.h"
#include "workflow/task_input.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>

namespace ferry::engine {

namespace {

// A task's inputs in name order: a Lua table has none of its own (and Lua seeds its string
// hashes per process), so `ferry tasks show` and "inputs: ..." in messages changed order
// from one run to the next.
tmpl::Value sorted_by_name(tmpl::Value inputs) {  // a fresh value: sorted in place
    if (!inputs.is_dict()) return inputs;
    tmpl::DictObj::Items items = inputs.dict_obj().release();
    std::stable_sort(items.begin(), items.end(), [](const auto& a, const auto& b) {
        return a.first.is_string() && b.first.is_string() ? a.first.str() < b.first.str()
                                                          : a.first.is_string();
    });
    inputs.dict_obj().assign(std::move(items));
    return inputs;
}

// FILE:LINE:COL like every other problem (editors and CI problem matchers read it): a
// problem of the whole file is placed at its start, and a message is one line.
workflow::Diagnostic diag(const std::string& file, int line, std::string message, int column = 0) {
    if (size_t nl = message.find('\n'); nl != std::string::npos) message.resize(nl);
    return workflow::Diagnostic{workflow::Mark{file, line > 0 ? line : 1, column > 0 ? column : 1},
                                std::move(message)};
}

// Where a field of a task's table was written in its file. A table carries no positions, so
// the source is searched for `key =` (or `["key"] =`); only a key written once is placed,
// since a guess that points at the wrong line is worse than the file's start.
class SourcePlaces {
  public:
    explicit SourcePlaces(std::string_view text) : text_(text) {}

    // The line and column of `key =`, or {0, 0} when it is not written exactly once.
    TextPosition key(std::string_view key) const { return place(unique(key, 0, text_.size())); }
    // `key =` inside the table constructor `outer = {...}` (an input's schema entry).
    TextPosition key_in(std::string_view outer, std::string_view key) const {
        size_t open = unique(outer, 0, text_.size(), true);
        if (open == npos) return {0, 0};
        return place(unique(key, open, closing_brace(open)));
    }

  private:
    static constexpr size_t npos = std::string_view::npos;

    // The offset of the one `key =` (or `["key"] =`) that starts in [from, to), or npos.
    // `a.key =` and `key ==` are not keys of a table constructor. A plain scan: a regex over
    // the file recursed once per blank it skipped (50,000 blanks before `=` overflowed the
    // stack) and compiled a long key past libstdc++'s state limit.
    size_t unique(std::string_view key, size_t from, size_t to, bool table = false) const {
        if (key.empty()) return npos;
        size_t found = npos;
        for (size_t at = text_.find(key); at != npos && at < to; at = text_.find(key, at + 1)) {
            size_t start = npos, after = npos;
            if (size_t b = bracket_before(at); b != npos) {
                after = bracket_after(at + key.size());
                if (after != npos) start = b;
            }
            if (start == npos && (at == 0 || !key_char(text_[at - 1]))) {
                size_t end = at + key.size();
                bool boundary = !is_word(key.back()) || end >= text_.size() || !is_word(text_[end]);
                if (boundary) start = at, after = end;
            }
            if (start == npos || !assigned(after, table)) continue;
            if (start < from) continue;
            if (found != npos) return npos;
            found = start;
        }
        return found;
    }
    static bool is_word(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
    // What may not come right before a key: `a.key`, `a:key`, `xkey`.
    static bool key_char(char c) { return is_word(c) || c == '.' || c == ':'; }
    static bool blank(char c) { return std::strchr(" \t\n\r\f\v", c) && c != '\0'; }
    size_t skip_blanks(size_t i) const {
        while (i < text_.size() && blank(text_[i]))
            ++i;
        return i;
    }
    // `[` blanks and a quote before the key at `at`: the bracket's offset, or npos.
    size_t bracket_before(size_t at) const {
        if (at == 0 || (text_[at - 1] != '"' && text_[at - 1] != '\'')) return npos;
        size_t i = at - 1;
        while (i > 0 && blank(text_[i - 1]))
            --i;
        if (i == 0 || text_[i - 1] != '[') return npos;
        size_t bracket = i - 1;
        if (bracket > 0 && key_char(text_[bracket - 1])) return npos;
        return bracket;
    }
    // A quote, blanks and `]` after the key ending at `end`: the offset past `]`, or npos.
    size_t bracket_after(size_t end) const {
        if (end >= text_.size() || (text_[end] != '"' && text_[end] != '\'')) return npos;
        size_t i = skip_blanks(end + 1);
        return i < text_.size() && text_[i] == ']' ? i + 1 : npos;
    }
    // Blanks, `=` (not `==`) and, for a table, blanks and `{` from `i`.
    bool assigned(size_t i, bool table) const {
        i = skip_blanks(i);
        if (i >= text_.size() || text_[i] != '=') return false;
        if (!table) return i + 1 >= text_.size() || text_[i + 1] != '=';
        i = skip_blanks(i + 1);
        return i < text_.size() && text_[i] == '{';
    }
    // The brace that closes the one at `open` (strings and comments are not skipped: a
    // brace in them can only shorten the search, which then finds nothing).
    size_t closing_brace(size_t at) const {
        size_t open = text_.find('{', at);
        int depth = 0;
        for (size_t i = open; i < text_.size(); ++i) {
            if (text_[i] == '{') ++depth;
            if (text_[i] == '}' && --depth == 0) return i;
        }
        return text_.size();
    }
    TextPosition place(size_t offset) const {
        return offset == npos ? TextPosition{0, 0} : position_at(text_, offset);
    }

    std::string_view text_;
};

workflow::Diagnostic diag_at(const std::string& file, TextPosition at, std::string message) {
    return diag(file, at.line, std::move(message), at.column);
}

// A Lua error raised while the file ran ("tasks/t.lua:3: boom"): its line, and the
// message without the place.
workflow::Diagnostic raised_diag(const std::string& file, const Error& e) {
    int line = e.location && e.location->file == file ? e.location->line : 0;
    std::string message = e.message;
    const std::string prefix = file + ":";
    if (message.compare(0, prefix.size(), prefix) == 0) {
        size_t colon = message.find(':', prefix.size());
        if (colon != std::string::npos && colon > prefix.size() &&
            message.find_first_not_of("0123456789", prefix.size()) == colon) {
            if (!line) line = std::atoi(message.c_str() + prefix.size());
            message.erase(0, std::min(message.size(), colon + 2));
        }
    }
    return diag(file, line, "loading failed: " + message);
}

// t[key] without metamethods: a task file may return a table whose __index raises or
// loops, and these reads run in C++, outside any protected call or instruction budget.
void raw_field(lua_State* L, int idx, const char* key) {
    idx = lua_absindex(L, idx);
    lua_pushstring(L, key);
    lua_rawget(L, idx);
}

std::string field_string(lua_State* L, int idx, const char* key) {
    raw_field(L, idx, key);
    std::string out = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
    lua_pop(L, 1);
    return out;
}

// A table field as JSON. One that has none (a default of 0/0, a function) is a problem of
// the file: taken as empty, it turned the whole input schema off in silence.
tmpl::Value field_json(lua_State* L, int idx, const char* key, const TaskDef& t,
                       const std::string& rel, const SourcePlaces& places,
                       std::vector<workflow::Diagnostic>& problems) {
    raw_field(L, idx, key);
    tmpl::Value out = tmpl::Value::dict();
    if (lua_istable(L, -1)) {
        rapidjson::Document doc;
        if (Status converted = json_lua::to_json(L, lua_gettop(L), doc, doc.GetAllocator()))
            out = from_rapidjson(doc);
        else
            problems.push_back(
                diag_at(rel, places.key(key),
                        "task '" + t.name + "': '" + key +
                            "' has a value JSON cannot hold: " + converted.error().message));
    }
    lua_pop(L, 1);
    return out;
}

// A task the engine runs itself (no Lua file behind it).
TaskDef native_task(const char* name, const char* description) {
    TaskDef d;
    d.name = name;
    d.description = description;
    d.file = "(engine)";
    d.origin = "(built-in)";
    d.native = true;
    d.input = tmpl::Value::dict();
    return d;
}

TaskDef native_workflow_task() {
    TaskDef d =
        native_task("workflow", "Run another workflow as a step; the step's output is its outputs");
    d.input.dict_obj().set(str("name"), dict_of({{"type", str("string")},
                                                 {"required", tmpl::Value::boolean(true)},
                                                 {"description", str("the workflow to run")}}));
    d.input.dict_obj().set(str("inputs"),
                           dict_of({{"type", str("object")}, {"description", str("its inputs")}}));
    return d;
}

TaskDef native_approval_task() {
    TaskDef d = native_task("approval",
                            "Wait for a person to approve or reject (the execution parks durably)");
    auto field = [&](const char* name, const char* type, const char* what) {
        d.input.dict_obj().set(str(name),
                               dict_of({{"type", str(type)}, {"description", str(what)}}));
    };
    field("message", "string", "what is to be approved (shown to approvers)");
    field("approvers", "array", "who may decide (token names; empty: any operator)");
    field("timeout", "string", "how long to wait, e.g. 4h (default: no limit)");
    field("on_timeout", "string", "reject (default), or the id of a step to run instead");
    return d;
}

// A declaration such as `pure = true`: absent is false, anything but a boolean a problem,
// and false meanwhile (`ferry run` warns and goes on: "false" read as Lua's truth made a
// task pure, and so ran it before its "running" record was durable).
bool field_flag(lua_State* L, int idx, const char* key, const TaskDef& t, const std::string& rel,
                const SourcePlaces& places, std::vector<workflow::Diagnostic>& problems) {
    raw_field(L, idx, key);
    if (!lua_isnil(L, -1) && !lua_isboolean(L, -1)) {
        problems.push_back(diag_at(rel, places.key(key),
                                   "task '" + t.name + "': '" + key +
                                       "' must be true or false, not " + luaL_typename(L, -1)));
    }
    bool flag = lua_isboolean(L, -1) && lua_toboolean(L, -1);
    lua_pop(L, 1);
    return flag;
}

// A task file's text as Lua's own file loader (luaL_loadfile) reads it: a UTF-8 byte order
// mark and a first line starting with '#' (a shebang) are skipped, the line kept empty so
// that positions keep their line numbers. Either failed as "unexpected symbol near '<\239>'".
std::string as_lua_reads_a_file(std::string text) {
    if (text.starts_with("\xEF\xBB\xBF")) text.erase(0, 3);
    if (text.starts_with('#')) text.erase(0, std::min(text.find('\n'), text.size()));
    return text;
}

// Keys of a task's table: a misspelt one (`inputs`, `requird`) was taken in silence, and the
// task then ran without what it meant to declare. Functions and keys far from every known
// one are the module's own (helpers, data).
void check_module_keys(lua_State* L, int idx, const std::string& name, const std::string& rel,
                       const SourcePlaces& places, std::vector<workflow::Diagnostic>& problems) {
    static const std::vector<std::string> kKnown = {
        "name", "description", "input",    "output",  "raw",         "run",
        "pure", "keeps_input", "provider", "default", "integrations"};
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        if (lua_type(L, -2) == LUA_TSTRING && !lua_isfunction(L, -1)) {
            std::string key = lua_tostring(L, -2);
            if (std::find(kKnown.begin(), kKnown.end(), key) == kKnown.end()) {
                std::string hint = workflow::did_you_mean(key, kKnown);
                if (!hint.empty())
                    problems.push_back(
                        diag_at(rel, places.key(key),
                                "task '" + name + "': unknown key '" + key + "'" + hint));
            }
        }
        lua_pop(L, 1);
    }
}

// One input's entry (or, `nested`, an entry under an object input's `properties`, named
// dotted), as check_task_input reads it.
void check_input_entry(const TaskDef& t, const std::string& rel, const SourcePlaces& places,
                       const std::string& name, const tmpl::Value& spec, bool nested,
                       std::vector<workflow::Diagnostic>& problems) {
    // Places are known for the top level only: a nested entry is reported at its input.
    const std::string top = name.substr(0, name.find_first_of(".["));
    if (!spec.is_dict()) {
        problems.push_back(diag_at(rel, places.key(top),
                                   "task '" + t.name + "': input '" + name +
                                       "' must be a table like {type = \"string\"}"));
        return;
    }
    auto problem = [&](const std::string& key, const std::string& what) {
        problems.push_back(diag_at(rel, nested ? places.key(top) : places.key_in(name, key),
                                   "task '" + t.name + "': input '" + name + "' " + what));
    };
    // A misspelt `required` turned off exactly the check the schema is for.
    const std::vector<std::string>& spec_keys = workflow::task_input_spec_keys();
    for (const auto& [k, v] : spec.dict_obj().items()) {
        std::string word = k.is_string() ? std::string(k.str()) : tmpl::to_repr(k);
        if (nested && word == "default") {
            problem(word, "has a default; an entry under 'properties' cannot (give the "
                          "object input a default instead)");
            continue;
        }
        if (workflow::detail::contains(spec_keys, word)) continue;
        std::string hint = workflow::did_you_mean(word, spec_keys);
        problem(word,
                "has an unknown key '" + word + "'" +
                    (hint.empty() ? " (keys: " + workflow::detail::join(spec_keys) + ")" : hint));
    }
    if (const tmpl::Value* format = spec.dict_obj().find("format");
        format && !(format->is_string() && format->str() == "duration"))
        problem("format", "has format = " + tmpl::to_repr(*format) +
                              "; the one format is \"duration\" (300ms, 2s, 1m30s)");
    if (const tmpl::Value* required = spec.dict_obj().find("required");
        required && !required->is_bool())
        problem("required",
                "has required = " + tmpl::to_repr(*required) + "; it must be true or false");
    const tmpl::Value* choices = spec.dict_obj().find("enum");
    if (choices && !choices->is_list() &&
        !(choices->is_dict() && choices->dict_obj().items().empty()))  // {} is Lua's []
        problem("enum", "has enum = " + tmpl::to_repr(*choices) + "; it must be a list of values");
    const tmpl::Value* type = spec.dict_obj().find("type");
    const std::string text = !type               ? "any"
                             : type->is_string() ? std::string(type->str())
                                                 : tmpl::to_repr(*type);
    if (const tmpl::Value* properties = spec.dict_obj().find("properties")) {
        if (text != "object" && text != "any") {
            problem("properties",
                    "has properties but type " + text + "; they describe the keys of an object");
        } else if (!properties->is_dict()) {
            problem("properties", "has properties = " + tmpl::to_repr(*properties) +
                                      "; it must be a table of key -> {type, required...}");
        } else {
            for (const auto& [key, sub] : properties->dict_obj().items())
                check_input_entry(
                    t, rel, places,
                    name + "." + (key.is_string() ? std::string(key.str()) : tmpl::to_repr(key)),
                    sub, true, problems);
        }
    }
    if (const tmpl::Value* items = spec.dict_obj().find("items")) {
        if (text != "array" && text != "any")
            problem("items", "has items but type " + text + "; they describe an array's items");
        else if (!items->is_dict())
            problem("items",
                    "has items = " + tmpl::to_repr(*items) +
                        "; it must be an entry like {type = \"object\", properties = {...}}");
        else
            check_input_entry(t, rel, places, name + "[]", *items, true, problems);
    }
    // The enum holds for given values; a default outside it would reach the task unasked.
    const tmpl::Value* fallback = spec.dict_obj().find("default");
    if (fallback && !fallback->is_none() && choices && choices->is_list() &&
        std::none_of(choices->list_obj().items.begin(), choices->list_obj().items.end(),
                     [&](const tmpl::Value& c) { return tmpl::equals(c, *fallback); })) {
        problem("default", "has default " + tmpl::to_repr(*fallback) +
                               ", which is not one of its enum " +
                               workflow::detail::describe_values(choices->list_obj().items));
        return;
    }
    if (!workflow::detail::contains(workflow::input_types(), text)) {
        problem("type", "has type '" + text +
                            "'; types: string, integer, number, boolean, object, array, any");
        return;
    }
    // A default of another type would reach the task as it is: the type says otherwise.
    if (fallback && !fallback->is_none() && !workflow::detail::type_matches(text, *fallback))
        problem("default", "has type " + text + " but default " + tmpl::to_repr(*fallback));
}

// The declared input schema as apply_schema (units.cpp) reads it: a misspelt type would
// fail every invocation ("must be a strnig"), so it fails the task's loading instead. The
// types are a workflow's input types (workflow::input_types).
void check_input_schema(const TaskDef& t, const std::string& rel, const SourcePlaces& places,
                        std::vector<workflow::Diagnostic>& problems) {
    if (t.input.is_undefined() || t.input.is_none()) return;
    if (!t.input.is_dict()) {
        problems.push_back(diag_at(rel, places.key("input"),
                                   "task '" + t.name +
                                       "': 'input' must be a table of "
                                       "input name -> {type, required...}"));
        return;
    }
    for (const auto& [key, spec] : t.input.dict_obj().items())
        check_input_entry(t, rel, places,
                          key.is_string() ? std::string(key.str()) : tmpl::to_repr(key), spec,
                          false, problems);
}

// A field that must be a table when present (input, output, raw, integrations).
bool check_table_field(lua_State* L, int idx, const char* key, const std::string& task,
                       const std::string& rel, const SourcePlaces& places,
                       std::vector<workflow::Diagnostic>& problems) {
    raw_field(L, idx, key);
    int type = lua_type(L, -1);
    lua_pop(L, 1);
    if (type == LUA_TNIL || type == LUA_TTABLE) return true;
    problems.push_back(diag_at(rel, places.key(key),
                               "task '" + task + "': '" + key + "' must be a table, not a " +
                                   lua_typename(L, type)));
    return false;
}

}  // namespace

Result<int> load_lua_file(LuaVM& vm, const Project& project, const std::string& rel) {
    std::string origin;
    std::optional<std::string> text = project.read(rel, &origin);
    if (!text)
        return make_error(ErrorKind::NotFound, "cannot read '" + rel +
                                                   "': no such file in the project (or "
                                                   "built in)");
    Result<int> chunk = vm.load_chunk("@" + rel, *text);
    if (!chunk) return chunk.error();
    return vm.run_chunk(chunk.value());
}

void TaskCatalog::load(LuaVM& vm, const Project& project,
                       std::vector<workflow::Diagnostic>& problems) {
    tasks_.clear();
    tasks_["workflow"].push_back(native_workflow_task());
    tasks_["approval"].push_back(native_approval_task());
    lua_State* L = vm.state();
    // Built-in files first, then the project's own: a project task that redefines a built-in
    // is the duplicate (reported at its file), whatever its path. In path order a file such
    // as tasks/a/mylog.lua took over `log`, reported at the built-in's file.
    struct Source {
        std::string rel;
        std::string text;
        std::string origin;
    };
    std::vector<Source> builtin, own;
    for (const std::string& rel : project.list("tasks", {".lua"})) {
        std::string origin;
        std::optional<std::string> text = project.read(rel, &origin);
        if (!text) continue;
        (origin.rfind("(built-in)", 0) == 0 ? builtin : own)
            .push_back({rel, as_lua_reads_a_file(std::move(*text)), origin});
    }
    builtin.insert(builtin.end(), std::make_move_iterator(own.begin()),
                   std::make_move_iterator(own.end()));
    for (const Source& source : builtin) {
        const std::string& rel = source.rel;
        const std::string& text = source.text;
        const std::string& origin = source.origin;
        Result<int> chunk = vm.load_chunk("@" + rel, text);
        if (!chunk) {
            const Error& e = chunk.error();
            problems.push_back(diag(rel, e.location ? e.location->line : 0, e.message,
                                    e.location ? e.location->column : 0));
            continue;
        }
        Result<int> def = vm.run_chunk(chunk.value());
        if (!def) {
            problems.push_back(raised_diag(rel, def.error()));
            continue;
        }
        lua_rawgeti(L, LUA_REGISTRYINDEX, def.value());
        int idx = lua_gettop(L);
        const SourcePlaces places(text);
        // Files that return something else (hooks, helper modules) are not tasks.
        bool is_task = lua_istable(L, idx);
        if (is_task) {
            raw_field(L, idx, "run");
            is_task = lua_isfunction(L, -1);
            lua_pop(L, 1);
        }
        if (is_task && field_string(L, idx, "name").empty()) {
            // A run function makes it a task: one without a name would just be missing.
            problems.push_back(diag(rel, 0,
                                    "a task file's table has 'run' but no 'name' (a "
                                    "non-empty string such as \"demo.hello\")"));
            lua_pop(L, 1);
            continue;
        }
        if (!is_task) {
            // A table with a name and a run that is not a function is a task with a mistake,
            // not a helper module: say so rather than leave the task missing.
            if (lua_istable(L, idx) && !field_string(L, idx, "name").empty()) {
                raw_field(L, idx, "run");
                problems.push_back(diag_at(rel, places.key("run"),
                                           "task '" + field_string(L, idx, "name") +
                                               "': 'run' must be a function(ctx, input), not " +
                                               luaL_typename(L, -1)));
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
            continue;
        }
        TaskDef t;
        t.name = field_string(L, idx, "name");
        // Named in workflow files, which are UTF-8, and in JSON records and answers.
        if (size_t bad = invalid_utf8_at(t.name); bad != std::string::npos) {
            char byte[8];
            std::snprintf(byte, sizeof byte, "0x%02X",
                          unsigned(static_cast<unsigned char>(t.name[bad])));
            problems.push_back(
                diag_at(rel, places.key("name"),
                        std::string("a task's name must be UTF-8 text (it has byte ") + byte +
                            "): workflows name it, and records hold it"));
            lua_pop(L, 1);
            continue;
        }
        t.provider = field_string(L, idx, "provider");
        t.description = field_string(L, idx, "description");
        t.file = rel;
        t.origin = origin;
        for (const char* key : {"input", "output", "raw", "integrations"})
            check_table_field(L, idx, key, t.name, rel, places, problems);
        check_module_keys(L, idx, t.name, rel, places, problems);
        t.input = sorted_by_name(field_json(L, idx, "input", t, rel, places, problems));
        check_input_schema(t, rel, places, problems);
        t.output = field_json(L, idx, "output", t, rel, places, problems);
        t.is_default = field_flag(L, idx, "default", t, rel, places, problems);
        t.pure = field_flag(L, idx, "pure", t, rel, places, problems);
        t.keeps_input = field_flag(L, idx, "keeps_input", t, rel, places, problems);
        raw_field(L, idx, "integrations");
        if (lua_istable(L, -1)) {
            for (lua_Integer k = 1; lua_rawgeti(L, -1, k) == LUA_TSTRING; ++k) {
                // A misspelt type matched no integration, and the task ran with none.
                const std::vector<std::string>& types = workflow::integration_types();
                if (std::string type = lua_tostring(L, -1);
                    !workflow::detail::contains(types, type))
                    problems.push_back(diag_at(rel, places.key("integrations"),
                                               "task '" + t.name + "': 'integrations' names '" +
                                                   type + "', which is no integration type (" +
                                                   workflow::detail::join(types) + ")" +
                                                   workflow::did_you_mean(type, types)));
                t.integration_types.emplace_back(lua_tostring(L, -1));
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
        raw_field(L, idx, "raw");
        if (lua_istable(L, -1)) {
            for (lua_Integer k = 1; lua_rawgeti(L, -1, k) == LUA_TSTRING; ++k) {
                std::vector<std::string> path;
                std::string text = lua_tostring(L, -1), piece;
                for (char c : text + ".") {
                    if (c == '.') {
                        path.push_back(piece);
                        piece.clear();
                    } else {
                        piece += c;
                    }
                }
                t.raw_paths.push_back(std::move(path));
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
        raw_field(L, idx, "run");
        t.run_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        lua_pop(L, 1);
        auto& list = tasks_[t.name];
        bool duplicate = false;
        for (const TaskDef& other : list) {
            if (other.provider == t.provider) {
                problems.push_back(
                    diag_at(rel, places.key("name"),
                            "task '" + t.name + "'" +
                                (t.provider.empty() ? "" : " provider '" + t.provider + "'") +
                                " is also defined in " + other.file));
                duplicate = true;
            }
        }
        if (!duplicate) list.push_back(std::move(t));
    }
}

const TaskDef* TaskCatalog::find(const std::string& name, const std::string& provider) const {
    auto it = tasks_.find(name);
    if (it == tasks_.end()) return nullptr;
    const auto& list = it->second;
    if (!provider.empty()) {
        for (const TaskDef& t : list)
            if (t.provider == provider) return &t;
        return nullptr;
    }
    if (list.size() == 1) return &list[0];
    for (const TaskDef& t : list)
        if (t.is_default || t.provider.empty()) return &t;
    return nullptr;
}

std::vector<const TaskDef*> TaskCatalog::all() const {
    std::vector<const TaskDef*> out;
    for (const auto& [name, list] : tasks_)
        for (const TaskDef& t : list)
            out.push_back(&t);
    return out;
}

std::vector<std::string> TaskCatalog::task_names() const {
    std::vector<std::string> out;
    for (const auto& [name, list] : tasks_)
        out.push_back(name);
    return out;
}

bool TaskCatalog::has_task(const std::string& task) const {
    return tasks_.count(task) > 0;
}

std::vector<std::string> TaskCatalog::providers(const std::string& task) const {
    std::vector<std::string> out;
    auto it = tasks_.find(task);
    if (it == tasks_.end()) return out;
    for (const TaskDef& t : it->second)
        if (!t.provider.empty()) out.push_back(t.provider);
    return out;
}

tmpl::Value TaskCatalog::input_spec(const std::string& task, const std::string& provider,
                                    const std::string& input) const {
    const TaskDef* t = find(task, provider);
    const tmpl::Value* spec = t && t->input.is_dict() ? t->input.dict_obj().find(input) : nullptr;
    return spec ? *spec : tmpl::Value();
}

std::vector<std::string> TaskCatalog::required_inputs(const std::string& task,
                                                      const std::string& provider) const {
    std::vector<std::string> out;
    const TaskDef* t = find(task, provider);
    if (!t || !t->input.is_dict()) return out;
    for (const auto& [k, spec] : t->input.dict_obj().items()) {
        if (!k.is_string() || !spec.is_dict()) continue;
        const tmpl::Value* required = spec.dict_obj().find("required");
        if (required && required->is_bool() && required->as_bool() &&
            !spec.dict_obj().find("default"))
            out.emplace_back(k.str());
    }
    return out;
}

std::vector<std::string> TaskCatalog::input_names(const std::string& task,
                                                  const std::string& provider) const {
    std::vector<std::string> out;
    const TaskDef* t = find(task, provider);
    if (!t || !t->input.is_dict()) return out;
    for (const auto& [k, v] : t->input.dict_obj().items())
        if (k.is_string()) out.emplace_back(k.str());
    return out;
}

}  // namespace ferry::engine

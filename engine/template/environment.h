// The template engine's public API: load templates from a search path, render them with
// JSON data, evaluate single expressions.
//
//     tmpl::Environment env(tmpl::FileSystemLoader("templates"));
//     auto result = env.render("incident.md.j2", vars);   // vars: a Value dict
//     if (!result) std::cerr << result.error().describe();
//
// Parsed templates are cached by name and parsed again when their source changes (as
// Jinja2's auto_reload); an Environment is not thread-safe (one per loop).
#pragma once

#include "template/ast.h"
#include "template/error.h"
#include "template/value.h"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>

namespace ferry::tmpl {

// Where template sources come from. load() returns the source, or nullopt when there is no
// such template; it raises TemplateError(Security) for names that try to leave the loader.
class Loader {
  public:
    virtual ~Loader() = default;
    virtual std::optional<std::string> load(const std::string& name) const = 0;
    // How to show the template in error messages (a path the user can open).
    virtual std::string display_name(const std::string& name) const { return name; }
    // A number that changes when what load(name) gives changes (Jinja2's `uptodate`, as
    // with auto_reload): a cached template is parsed again when it differs. nullopt: this
    // loader has no such template; sources that never change answer 0.
    virtual std::optional<uint64_t> version(const std::string& name) const {
        (void)name;
        return 0;
    }
};

// Jinja2's FileSystemLoader: names are '/'-separated paths below one or more folders,
// searched in order. '..' segments and absolute names are refused, and so is a file whose
// real path (after symlinks) lies outside its folder.
class FileSystemLoader final : public Loader {
  public:
    explicit FileSystemLoader(std::vector<std::string> search_path,
                              std::string display_prefix = {});
    std::optional<std::string> load(const std::string& name) const override;
    std::string display_name(const std::string& name) const override;
    // The file's modification time, size and inode, mixed (by stat alone).
    std::optional<uint64_t> version(const std::string& name) const override;

  private:
    std::vector<std::string> search_path_;
    std::string display_prefix_;
};

// In-memory templates (tests, embedded defaults).
class MapLoader final : public Loader {
  public:
    explicit MapLoader(std::map<std::string, std::string> templates)
        : templates_(std::move(templates)) {}
    std::optional<std::string> load(const std::string& name) const override;

  private:
    std::map<std::string, std::string> templates_;
};

// Jinja2's ChoiceLoader: the first loader that has the template wins (a project's own
// templates before the bundled ones).
class ChoiceLoader final : public Loader {
  public:
    explicit ChoiceLoader(std::vector<std::shared_ptr<const Loader>> loaders)
        : loaders_(std::move(loaders)) {}
    std::optional<std::string> load(const std::string& name) const override {
        for (const auto& l : loaders_)
            if (auto s = l->load(name)) return s;
        return std::nullopt;
    }
    std::optional<uint64_t> version(const std::string& name) const override {
        for (const auto& l : loaders_)
            if (auto v = l->version(name)) return v;
        return std::nullopt;
    }

  private:
    std::vector<std::shared_ptr<const Loader>> loaders_;
};

struct RenderOptions {
    bool strict = false;            // StrictUndefined
    size_t max_output = 64u << 20;  // bytes; runaway output stops with an error
    int max_depth = 200;            // nested macro calls, includes, imports
    // Wall-clock limit of one render or expression in milliseconds (0: none). Nested loops
    // over ranges stay under every size limit while running for hours: a host that renders
    // on its event loop (the engine) cannot afford them.
    uint64_t max_render_ms = 0;
    // The largest template source parsed, in bytes (0: any). Parsing is not interruptible
    // and a parsed statement holds ~1 KB: 16 MB of `{% set %}` held a host that renders on
    // its event loop for 46 s and 2.5 GB, past every other limit.
    size_t max_source_bytes = 0;
};

template <class T>
class Result {
  public:
    Result(T value) : v_(std::move(value)) {}              // NOLINT(google-explicit-constructor)
    Result(TemplateError error) : v_(std::move(error)) {}  // NOLINT
    explicit operator bool() const { return v_.index() == 0; }
    T& value() { return std::get<0>(v_); }
    const TemplateError& error() const { return std::get<1>(v_); }

  private:
    std::variant<T, TemplateError> v_;
};

class Environment {
  public:
    explicit Environment(std::shared_ptr<const Loader> loader, RenderOptions options = {});
    ~Environment();  // frees cached modules (their macros and scopes refer to each other)
    Environment(const Environment&) = delete;
    Environment& operator=(const Environment&) = delete;

    // Parses (once, and again when the loader's version of it changes) and returns a
    // template; raises TemplateError.
    std::shared_ptr<const ParsedTemplate> get_template(const std::string& name);
    // Parses source that does not come from the loader (its includes still do).
    std::shared_ptr<const ParsedTemplate> from_string(const std::string& source,
                                                      const std::string& name = "<string>");
    // Raises a Limit TemplateError naming `name` when source is past max_source_bytes
    // (every parse here checks; a host that parses an expression itself asks first).
    void check_source_size(std::string_view source, const std::string& name) const;

    // Renders with vars (a dict) as the context. Errors come back as values.
    Result<std::string> render(const std::string& name, const Value& vars);
    Result<std::string> render(const ParsedTemplate& tmpl, const Value& vars);
    // Same, raising TemplateError.
    std::string render_or_throw(const ParsedTemplate& tmpl, const Value& vars);

    // Evaluates one parsed expression with vars as the context; raises TemplateError.
    Value evaluate(const Expr& expr, const Value& vars, const std::string& source_name);

    const RenderOptions& options() const { return options_; }
    RenderOptions& options() { return options_; }
    const Loader& loader() const { return *loader_; }

  private:
    std::shared_ptr<const Loader> loader_;
    RenderOptions options_;
    struct CachedTemplate {
        std::shared_ptr<const ParsedTemplate> parsed;
        std::optional<uint64_t> version;
    };
    std::map<std::string, CachedTemplate> cache_;
    // Modules of templates parsed again since: a render may still hold them, and a cached
    // module that imported one does (as Jinja2's cached module keeps the old import). Freed
    // once no render runs and nothing else holds them (render_ends).
    std::vector<Value> retired_modules_;
    int renders_ = 0;  // Renderers alive on this Environment

  public:
    // Renderer's bookkeeping: the first begins, the last ends and frees what it can.
    void render_begins() { ++renders_; }
    void render_ends();

  public:
    // Modules imported without context depend only on the template, so they are made once
    // per Environment and shared by later renders, as Jinja2's Template._get_default_module.
    std::map<const ParsedTemplate*, Value> module_cache_;
};

// JSON text -> Value, keeping ints as ints (never through a double) and key order.
// Raises TemplateError(Value) naming the offset of a syntax error.
Value value_from_json(std::string_view json);

}  // namespace ferry::tmpl

#include "template/environment.h"

#include "template/json_value.h"

#include "runtime/file_stamp.h"
#include "runtime/json_numbers.h"

#include "template/parser.h"
#include "template/render.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <climits>
#include <cstdlib>
#include <fstream>
#include <new>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <sys/stat.h>

namespace ferry::tmpl {

// ---- loaders ---------------------------------------------------------------------------

namespace {

// jinja2.loaders.split_template_path: '..' leaves the search path, so it is refused.
std::vector<std::string> split_template_path(const std::string& name) {
    std::vector<std::string> pieces;
    std::string_view rest = name;
    while (!rest.empty()) {
        size_t slash = rest.find('/');
        std::string_view piece = rest.substr(0, slash);
        rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
        if (piece == "..") {
            throw TemplateError(ErrorKind::Security,
                                "template name '" + name + "' leaves the template folder");
        }
        if (!piece.empty() && piece != ".") pieces.emplace_back(piece);
    }
    return pieces;
}

// dir/piece/piece...: a template's file in one folder of the search path.
std::string path_below(const std::string& dir, const std::vector<std::string>& pieces) {
    std::string path = dir;
    for (const std::string& p : pieces)
        path += "/" + p;
    return path;
}

std::string real_path(const std::string& path) {
    char buf[PATH_MAX];
    if (!::realpath(path.c_str(), buf)) return {};
    return buf;
}

}  // namespace

FileSystemLoader::FileSystemLoader(std::vector<std::string> search_path, std::string display_prefix)
    : search_path_(std::move(search_path)), display_prefix_(std::move(display_prefix)) {}

std::optional<std::string> FileSystemLoader::load(const std::string& name) const {
    if (!name.empty() && name[0] == '/') {
        throw TemplateError(ErrorKind::Security, "template name '" + name +
                                                     "' is absolute; names are relative to the "
                                                     "template folder");
    }
    std::vector<std::string> pieces = split_template_path(name);
    if (pieces.empty()) return std::nullopt;
    for (const std::string& dir : search_path_) {
        std::string path = path_below(dir, pieces);
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        // A symlink may point anywhere: only files really inside the folder are templates.
        std::string root = real_path(dir);
        std::string file = real_path(path);
        if (root.empty() || file.compare(0, root.size() + 1, root + "/") != 0) {
            throw TemplateError(ErrorKind::Security,
                                "template '" + name + "' resolves outside the template folder");
        }
        std::ifstream in(path, std::ios::binary);
        if (!in) continue;
        std::ostringstream text;
        text << in.rdbuf();
        return text.str();
    }
    return std::nullopt;
}

std::optional<uint64_t> FileSystemLoader::version(const std::string& name) const {
    if (name.empty() || name[0] == '/') return std::nullopt;  // load() says why
    std::vector<std::string> pieces = split_template_path(name);
    if (pieces.empty()) return std::nullopt;
    for (const std::string& dir : search_path_)
        if (std::optional<uint64_t> stamp = file_stamp(path_below(dir, pieces))) return stamp;
    return std::nullopt;
}

std::string FileSystemLoader::display_name(const std::string& name) const {
    return display_prefix_ + name;
}

std::optional<std::string> MapLoader::load(const std::string& name) const {
    auto it = templates_.find(name);
    if (it == templates_.end()) return std::nullopt;
    return it->second;
}

// ---- environment -------------------------------------------------------------------------

Environment::Environment(std::shared_ptr<const Loader> loader, RenderOptions options)
    : loader_(std::move(loader)), options_(options) {}

Environment::~Environment() {
    for (auto& [tmpl, module] : module_cache_)
        clear_module(module);
    for (const Value& module : retired_modules_)
        clear_module(module);
}

void Environment::render_ends() {
    if (--renders_ > 0 || retired_modules_.empty()) return;
    std::erase_if(retired_modules_, [](const Value& module) {
        if (module.identity()->refs > 1) return false;  // a cached module imported it
        clear_module(module);                           // its macros and scope hold each other
        return true;
    });
}

std::shared_ptr<const ParsedTemplate> Environment::get_template(const std::string& name) {
    std::optional<uint64_t> version = loader_->version(name);  // before reading: see load
    auto it = cache_.find(name);
    if (it != cache_.end()) {
        if (it->second.version == version) return it->second.parsed;
        // Its module is keyed by the parsed template's address, which a new one may reuse.
        auto module = module_cache_.find(it->second.parsed.get());
        if (module != module_cache_.end()) {
            retired_modules_.push_back(std::move(module->second));
            module_cache_.erase(module);
        }
        cache_.erase(it);
    }
    std::optional<std::string> source = loader_->load(name);
    if (!source) throw TemplateError(ErrorKind::NotFound, name);
    auto parsed = from_string(*source, name);
    cache_[name] = CachedTemplate{parsed, version};
    return parsed;
}

std::shared_ptr<const ParsedTemplate> Environment::from_string(const std::string& source,
                                                               const std::string& name) {
    check_source_size(source, name);
    return std::shared_ptr<const ParsedTemplate>(parse_template(source, name));
}

void Environment::check_source_size(std::string_view source, const std::string& name) const {
    const size_t cap = options_.max_source_bytes;
    if (cap == 0 || source.size() <= cap) return;
    throw TemplateError(ErrorKind::Limit, name + " is " + std::to_string(source.size()) +
                                              " bytes; a template is at most " +
                                              std::to_string(cap) + " bytes here");
}

std::string Environment::render_or_throw(const ParsedTemplate& tmpl, const Value& vars) {
    try {
        Renderer r(*this, options_);
        std::string out;
        out.reserve(tmpl.output_size_hint.load(std::memory_order_relaxed));
        Ref<Scope> context =
            r.make_context(vars, tmpl.context_size_hint.load(std::memory_order_relaxed));
        r.render_root(tmpl, context, out);
        tmpl.output_size_hint.store(out.size(), std::memory_order_relaxed);
        tmpl.context_size_hint.store(context->vars.size(), std::memory_order_relaxed);
        return out;
    } catch (const std::bad_alloc&) {
        // Outside any expression (they raise LimitErrors of their own where they fail): the
        // output itself.
        throw TemplateError(ErrorKind::Limit, "out of memory rendering " + tmpl.name);
    } catch (const std::length_error&) {
        throw TemplateError(ErrorKind::Limit, "out of memory rendering " + tmpl.name);
    }
}

Result<std::string> Environment::render(const ParsedTemplate& tmpl, const Value& vars) {
    try {
        return render_or_throw(tmpl, vars);
    } catch (TemplateError& err) {
        return err;
    }
}

Result<std::string> Environment::render(const std::string& name, const Value& vars) {
    try {
        return render_or_throw(*get_template(name), vars);
    } catch (TemplateError& err) {
        return err;
    }
}

namespace {

// A name and the attributes read from it (`steps.fetch.output.id`): most expressions of a
// workflow are this, and reading them needs no renderer (its scope, frame and error
// locations cost ten times the lookups). Only dicts all the way, with keys that are no dict
// method (Jinja2 reads `d.items` as the method): anything else, a missing key included,
// takes the renderer's path, which says what went wrong.
const Value* read_plain_path(const Expr& expr, const Value& vars) {
    constexpr int kMaxDepth = 8;
    const Expr* names[kMaxDepth];
    int n = 0;
    const Expr* e = &expr;
    for (; e->kind == ExprKind::Getattr; e = e->a.get()) {
        if (n == kMaxDepth || !e->a) return nullptr;
        names[n++] = e;
    }
    if (e->kind != ExprKind::Name || !vars.is_dict()) return nullptr;
    const Value* at = vars.dict_obj().find(e->name);
    while (at && n > 0) {
        const std::string& name = names[--n]->name;
        if (!at->is_dict() || has_method(*at, name)) return nullptr;
        at = at->dict_obj().find(name);
    }
    return at && !at->is_undefined() ? at : nullptr;
}

}  // namespace

Value Environment::evaluate(const Expr& expr, const Value& vars, const std::string& source_name) {
    if (const Value* plain = read_plain_path(expr, vars)) return *plain;
    Renderer r(*this, options_);
    ParsedTemplate holder;
    holder.name = source_name;
    TemplateFrame frame;
    frame.tmpl = &holder;
    frame.context = r.make_context(vars);
    frame.blocks = make_ref<SharedBlocks>();
    std::string sink;
    r.enter(frame.context, &sink, &frame);
    return r.eval(expr);
}

// ---- JSON -----------------------------------------------------------------------------------

namespace {

Value from_json(const rapidjson::Value& j, int depth) {
    if (depth > 512) raise(ErrorKind::Value, "JSON nesting deeper than 512 levels");
    switch (j.GetType()) {
    case rapidjson::kNullType: return Value::none();
    case rapidjson::kFalseType: return Value::boolean(false);
    case rapidjson::kTrueType: return Value::boolean(true);
    case rapidjson::kNumberType:
        if (j.IsInt64()) return Value::integer(j.GetInt64());
        if (j.IsUint64()) {
            raise(ErrorKind::Overflow,
                  "integer " + std::to_string(j.GetUint64()) + " does not fit in 64 bits");
        }
        return Value::floating(j.GetDouble());
    case rapidjson::kStringType:
        return Value::string(std::string(j.GetString(), j.GetStringLength()));
    case rapidjson::kArrayType: {
        std::vector<Value> items;
        items.reserve(j.Size());
        for (const auto& item : j.GetArray())
            items.push_back(from_json(item, depth + 1));
        return Value::list(std::move(items));
    }
    case rapidjson::kObjectType: {
        Value d = Value::dict();
        auto& obj = d.dict_obj();
        obj.reserve(j.MemberCount());
        // A repeated name keeps its first place and takes the last value, as Python's
        // json.loads.
        for (const auto& m : j.GetObject()) {
            std::string name(m.name.GetString(), m.name.GetStringLength());
            obj.set(Value::string(std::move(name)), from_json(m.value, depth + 1));
        }
        return d;
    }
    }
    return Value::none();
}

}  // namespace

Value value_from_json_document(const rapidjson::Value& doc) {
    return from_json(doc, 0);
}

Value value_from_json(std::string_view json) {
    rapidjson::Document doc;
    rapidjson::ParseResult parsed =
        json_numbers::parse<kJsonReadFlags>(doc, json.data(), json.size());
    if (parsed.IsError()) {
        size_t offset = parsed.Offset();
        int line = 1, col = 1;
        for (size_t i = 0; i < offset && i < json.size(); ++i) {
            if (json[i] == '\n') {
                ++line;
                col = 1;
            } else {
                ++col;
            }
        }
        throw TemplateError(ErrorKind::Value,
                            std::string(rapidjson::GetParseError_En(parsed.Code())),
                            Location{"", line, col});
    }
    return from_json(doc, 0);
}

}  // namespace ferry::tmpl

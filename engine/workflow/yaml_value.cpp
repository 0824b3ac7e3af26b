// YAML nodes as template Values, positions inside scalars, and "did you mean" suggestions.
#include "workflow/loader_internal.h"

#include "runtime/utf8.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>

namespace ferry::workflow::detail {

Mark Context::mark(const YAML::Mark& m) const {
    // yaml-cpp counts from 0; a null mark (-1) means "unknown" and shows as the file's start.
    return Mark{file_, m.line >= 0 ? m.line + 1 : 1, m.column >= 0 ? m.column + 1 : 1};
}

Mark Context::mark(const YAML::Node& node) const {
    YAML::Mark m = node.Mark();
    if (!node.IsNull() || m.pos <= 0 || size_t(m.pos) > text_.size()) return mark(m);
    size_t p = size_t(m.pos);
    while (p > 0 && (text_[p - 1] == ' ' || text_[p - 1] == '\t'))
        --p;
    if (p == 0 || text_[p - 1] != '\n') return mark(m);  // `key: ~` on the same line
    while (p > 0 && (text_[p - 1] == ' ' || text_[p - 1] == '\t' || text_[p - 1] == '\n' ||
                     text_[p - 1] == '\r'))
        --p;
    if (p == 0 || (text_[p - 1] != ':' && text_[p - 1] != '-')) return mark(m);
    return mark_at_offset(p);
}

Mark Context::mark_at_offset(size_t offset) const {
    offset = std::min(offset, text_.size());
    if (line_starts_.empty()) {
        line_starts_.push_back(0);
        for (size_t i = 0; i < text_.size(); ++i)
            if (text_[i] == '\n') line_starts_.push_back(i + 1);
    }
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset) - 1;
    return Mark{file_, int(it - line_starts_.begin()) + 1, int(offset - *it) + 1};
}

bool Context::check_characters() {
    size_t bad = invalid_utf8_at(text_);
    if (bad != std::string_view::npos) {
        char byte[8];
        std::snprintf(byte, sizeof byte, "0x%02X",
                      unsigned(static_cast<unsigned char>(text_[bad])));
        error(mark_at_offset(bad),
              std::string("the file is not valid UTF-8 (byte ") + byte + "); save it as UTF-8");
        return false;
    }
    // YAML allows no control character but TAB, LF and CR, and yaml-cpp misreads them: a NUL
    // in a plain scalar starts an escape ("a\0x41b" read as "aAb", "\0n" as a line break).
    for (size_t i = 0; i < text_.size(); ++i) {
        auto c = static_cast<unsigned char>(text_[i]);
        if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F) {
            char byte[8];
            std::snprintf(byte, sizeof byte, "0x%02X", unsigned(c));
            error(mark_at_offset(i), std::string("the file holds a control character (byte ") +
                                         byte +
                                         "), which YAML does not allow; write it as an "
                                         "escape in a double-quoted string (\\x" +
                                         (byte + 2) + ")");
            return false;
        }
    }
    return true;
}

void Context::error(const Mark& at, std::string message) {
    std::string key = std::to_string(at.line) + ':' + std::to_string(at.column) + ':' + message;
    if (!reported_.insert(std::move(key)).second) return;
    problems_.push_back(Diagnostic{at, std::move(message)});
}

namespace {

constexpr std::string_view kTagStr = "tag:yaml.org,2002:str";
constexpr std::string_view kTagInt = "tag:yaml.org,2002:int";
constexpr std::string_view kTagFloat = "tag:yaml.org,2002:float";
constexpr std::string_view kTagBool = "tag:yaml.org,2002:bool";
constexpr std::string_view kTagNull = "tag:yaml.org,2002:null";
constexpr std::string_view kTagMap = "tag:yaml.org,2002:map";
constexpr std::string_view kTagSeq = "tag:yaml.org,2002:seq";

// Aliases share nodes, so a small file can describe an exponential tree ("billion laughs")
// or, with yaml-cpp, even a cycle. These limits stop both long before memory runs out.
constexpr int kMaxDepth = 128;
constexpr size_t kMaxNodes = 500'000;
// One long string reached through many aliases is few values but many bytes.
constexpr size_t kMaxBytes = size_t(64) << 20;

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
bool all_of(std::string_view s, bool (*pred)(char)) {
    return !s.empty() && std::all_of(s.begin(), s.end(), pred);
}
bool is_octal(char c) {
    return c >= '0' && c <= '7';
}
bool is_hex(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool is_null_text(std::string_view s) {
    return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

std::optional<bool> bool_text(std::string_view s) {
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
    return std::nullopt;
}

// [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+ (the core schema's int forms).
bool int_syntax(std::string_view s, int& base, std::string_view& digits, bool& negative) {
    negative = false;
    if (s.size() > 2 && s[0] == '0' && s[1] == 'o' && all_of(s.substr(2), is_octal)) {
        base = 8;
        digits = s.substr(2);
        return true;
    }
    if (s.size() > 2 && s[0] == '0' && s[1] == 'x' && all_of(s.substr(2), is_hex)) {
        base = 16;
        digits = s.substr(2);
        return true;
    }
    std::string_view body = s;
    if (!body.empty() && (body[0] == '-' || body[0] == '+')) {
        negative = body[0] == '-';
        body.remove_prefix(1);
    }
    if (!all_of(body, is_digit)) return false;
    base = 10;
    digits = body;
    return true;
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool float_syntax(std::string_view s) {
    size_t i = 0;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    size_t int_digits = 0, frac_digits = 0;
    while (i < s.size() && is_digit(s[i]))
        ++i, ++int_digits;
    if (i < s.size() && s[i] == '.') {
        ++i;
        while (i < s.size() && is_digit(s[i]))
            ++i, ++frac_digits;
    }
    if (int_digits == 0 && frac_digits == 0) return false;
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
        size_t exp_digits = 0;
        while (i < s.size() && is_digit(s[i]))
            ++i, ++exp_digits;
        if (exp_digits == 0) return false;
    }
    return i == s.size();
}

std::optional<double> special_float(std::string_view s) {
    std::string_view body = s;
    bool negative = false;
    if (!body.empty() && (body[0] == '-' || body[0] == '+')) {
        negative = body[0] == '-';
        body.remove_prefix(1);
    }
    if (body == ".inf" || body == ".Inf" || body == ".INF")
        return negative ? -std::numeric_limits<double>::infinity()
                        : std::numeric_limits<double>::infinity();
    if (s == ".nan" || s == ".NaN" || s == ".NAN") return std::numeric_limits<double>::quiet_NaN();
    return std::nullopt;
}

std::optional<tmpl::Value> parse_int_value(Context& ctx, const YAML::Node& node,
                                           std::string_view s) {
    int base = 10;
    std::string_view digits;
    bool negative = false;
    if (!int_syntax(s, base, digits, negative)) return std::nullopt;
    // Accumulate as a magnitude so INT64_MIN itself fits.
    uint64_t magnitude = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), magnitude, base);
    uint64_t limit = negative ? uint64_t(std::numeric_limits<int64_t>::max()) + 1
                              : uint64_t(std::numeric_limits<int64_t>::max());
    if (ec != std::errc() || end != digits.data() + digits.size() || magnitude > limit) {
        ctx.error(node, "integer " + std::string(s) + " does not fit in 64 bits");
        return tmpl::Value::string(std::string(s));
    }
    int64_t v = negative ? int64_t(0 - magnitude) : int64_t(magnitude);
    return tmpl::Value::integer(v);
}

std::optional<tmpl::Value> parse_float_value(Context& ctx, const YAML::Node& node,
                                             std::string_view s) {
    if (auto special = special_float(s)) return tmpl::Value::floating(*special);
    if (!float_syntax(s)) return std::nullopt;
    std::string_view body = s[0] == '+' ? s.substr(1) : s;
    double d = 0;
    auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), d);
    size_t e = body.find_first_of("eE");
    bool underflow = e != std::string_view::npos && e + 1 < body.size() && body[e + 1] == '-';
    if (ec == std::errc::result_out_of_range && underflow) {
        d = body[0] == '-' ? -0.0 : 0.0;  // as YAML parsers do: the nearest double is zero
    } else if (ec != std::errc() || end != body.data() + body.size()) {
        ctx.error(node, "number " + std::string(s) + " is out of range");
        return tmpl::Value::string(std::string(s));
    }
    return tmpl::Value::floating(d);
}

tmpl::Value plain_scalar(Context& ctx, const YAML::Node& node, const std::string& s) {
    if (is_null_text(s)) return tmpl::Value::none();
    if (auto b = bool_text(s)) return tmpl::Value::boolean(*b);
    if (auto i = parse_int_value(ctx, node, s)) return *i;
    if (auto f = parse_float_value(ctx, node, s)) return *f;
    return tmpl::Value::string(s);
}

// A scalar under an explicit tag (!!str, !!int...): the tag says how to read it.
tmpl::Value tagged_scalar(Context& ctx, const YAML::Node& node, const std::string& tag,
                          const std::string& s) {
    if (tag == kTagStr) return tmpl::Value::string(s);
    if (tag == kTagNull && is_null_text(s)) return tmpl::Value::none();
    if (tag == kTagBool)
        if (auto b = bool_text(s)) return tmpl::Value::boolean(*b);
    if (tag == kTagInt)
        if (auto i = parse_int_value(ctx, node, s)) return *i;
    if (tag == kTagFloat) {
        if (auto f = parse_float_value(ctx, node, s)) return *f;
        if (auto i = parse_int_value(ctx, node, s))
            return i->is_int() ? tmpl::Value::floating(double(i->as_int())) : *i;
    }
    if (tag == kTagStr || tag == kTagNull || tag == kTagBool || tag == kTagInt ||
        tag == kTagFloat) {
        ctx.error(node, "'" + s + "' is not a valid " + tag.substr(tag.rfind(':') + 1));
    } else {
        ctx.error(node, "unsupported tag '" + tag + "'");
    }
    return tmpl::Value::string(s);
}

struct Converter {
    Context& ctx;
    const StringVisitor* on_string;
    const YAML::Node& root;  // where "too large" is reported: the value that grew too big
    const StringVisitor* on_key = nullptr;
    bool stopped = false;

    bool count_bytes(size_t bytes) {
        if ((ctx.converted_bytes += bytes) <= kMaxBytes) return true;
        if (!ctx.too_large) {
            ctx.too_large = true;
            ctx.error(root, "data too large (more than " + std::to_string(kMaxBytes >> 20) +
                                " MiB of text once aliases are expanded)");
        }
        return false;
    }

    tmpl::Value convert(const YAML::Node& node, int depth) {
        if (stopped || ctx.too_large) return tmpl::Value::none();
        if (depth > kMaxDepth) {
            stopped = true;
            ctx.error(node, "data nested too deeply (more than " + std::to_string(kMaxDepth) +
                                " levels, or an alias cycle)");
            return tmpl::Value::none();
        }
        if (++ctx.converted > kMaxNodes) {
            ctx.too_large = true;
            ctx.error(root, "data too large (more than " + std::to_string(kMaxNodes) +
                                " values once aliases are expanded)");
            return tmpl::Value::none();
        }
        const std::string& tag = node.Tag();
        switch (node.Type()) {
        case YAML::NodeType::Undefined:
        case YAML::NodeType::Null:
            if (tag == kTagStr) return tmpl::Value::string("");
            return tmpl::Value::none();
        case YAML::NodeType::Scalar: {
            if (!count_bytes(node.Scalar().size())) return tmpl::Value::none();
            tmpl::Value v = scalar_value(ctx, node);
            if (v.is_string() && on_string) (*on_string)(node, node.Scalar());
            if (v.is_float() && !std::isfinite(v.as_float())) {
                // Data ends up in JSON (records, requests, answers), which has neither: a
                // silent null in a ticket field is worse than saying so here.
                ctx.error(node, "'" + node.Scalar() +
                                    "' has no JSON form (JSON has no infinity or NaN); write a "
                                    "number or a string");
                return tmpl::Value::string(node.Scalar());
            }
            return v;
        }
        case YAML::NodeType::Sequence: {
            if (tag != "?" && tag != "!" && tag != kTagSeq)
                ctx.error(node, "unsupported tag '" + tag + "'");
            std::vector<tmpl::Value> items;
            items.reserve(node.size());
            for (const YAML::Node& item : node)
                items.push_back(convert(item, depth + 1));
            return tmpl::Value::list(std::move(items));
        }
        case YAML::NodeType::Map: {
            if (tag != "?" && tag != "!" && tag != kTagMap)
                ctx.error(node, "unsupported tag '" + tag + "'");
            tmpl::Value dict = tmpl::Value::dict();
            std::vector<YAML::Node> merges;
            for_each_entry(
                ctx, node,
                [&](const std::string& key, const YAML::Node& key_node, const YAML::Node& value) {
                    if (key == "<<" && key_node.Tag() == "?") {
                        merges.push_back(value);
                        return;
                    }
                    if (on_key) (*on_key)(key_node, key);
                    if (!count_bytes(key.size())) return;
                    // for_each_entry passes each key once.
                    dict.dict_obj().append_new(tmpl::Value::string(key), convert(value, depth + 1));
                });
            for (const YAML::Node& m : merges)
                merge(dict, m, depth);
            return dict;
        }
        }
        return tmpl::Value::none();
    }

    // A YAML merge key (`<<: *defaults`, or a list of them): the mapping's own keys win, then
    // earlier sources over later ones, as in YAML 1.1's merge type.
    void merge(tmpl::Value& dict, const YAML::Node& source, int depth) {
        std::vector<YAML::Node> sources;
        if (source.IsMap()) {
            sources.push_back(source);
        } else if (source.IsSequence()) {
            for (const YAML::Node& item : source)
                sources.push_back(item);
        }
        for (const YAML::Node& from : sources) {
            if (!from.IsMap()) {
                ctx.error(from,
                          "a merge key '<<' takes a mapping (*alias) or a list of them, got " +
                              describe_node(ctx, from));
                return;
            }
        }
        if (sources.empty()) {
            ctx.error(source, "a merge key '<<' takes a mapping (*alias) or a list of them, got " +
                                  describe_node(ctx, source));
            return;
        }
        for (const YAML::Node& from : sources) {
            tmpl::Value add = convert(from, depth + 1);
            if (!add.is_dict()) continue;
            for (const auto& [k, v] : add.dict_obj().items())
                if (!dict.dict_obj().find(k.str())) dict.dict_obj().set(k, v);
        }
    }
};

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

size_t utf8_size(uint32_t cp) {
    return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

// Bytes a double-quoted escape takes in the source and in the decoded text.
void escape_sizes(std::string_view src, size_t at, size_t& raw, size_t& decoded) {
    char e = at + 1 < src.size() ? src[at + 1] : '\0';
    auto hex = [&](size_t n) {
        uint32_t cp = 0;
        std::from_chars(src.data() + at + 2, src.data() + std::min(src.size(), at + 2 + n), cp, 16);
        raw = 2 + n;
        decoded = utf8_size(cp);
    };
    switch (e) {
    case 'x': hex(2); return;
    case 'u': hex(4); return;
    case 'U': hex(8); return;
    case 'N':
    case '_':
        raw = 2;
        decoded = 2;
        return;  // U+0085, U+00A0
    case 'L':
    case 'P':
        raw = 2;
        decoded = 3;
        return;  // U+2028, U+2029
    default:
        raw = 2;
        decoded = 1;
        return;
    }
}

}  // namespace

tmpl::Value scalar_value(Context& ctx, const YAML::Node& node) {
    const std::string& s = node.Scalar();
    const std::string& tag = node.Tag();
    if (tag == "!") return tmpl::Value::string(s);
    if (tag == "?") return plain_scalar(ctx, node, s);
    return tagged_scalar(ctx, node, tag, s);
}

tmpl::Value to_value(Context& ctx, const YAML::Node& node, const StringVisitor* on_string,
                     const StringVisitor* on_key) {
    Converter c{ctx, on_string, node, on_key};
    return c.convert(node, 0);
}

std::string describe_node(Context& ctx, const YAML::Node& node) {
    switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null: return "null";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Scalar: break;
    }
    // Describe the value without reporting twice what scalar_value may complain about.
    Context quiet(ctx.text(), ctx.file());
    tmpl::Value v = scalar_value(quiet, node);
    std::string text = node.Scalar();
    if (text.size() > 60) text = text.substr(0, 57) + "...";
    if (v.is_string()) return "'" + text + "'";
    if (v.is_bool()) return "a boolean (" + text + ")";
    if (v.is_int()) return "an integer (" + text + ")";
    if (v.is_float()) return "a number (" + text + ")";
    return "null";
}

Mark locate_in_scalar(const Context& ctx, const YAML::Node& scalar, size_t offset) {
    const std::string& src = ctx.text();
    const std::string& dec = scalar.Scalar();
    YAML::Mark m = scalar.Mark();
    Mark fallback = ctx.mark(m);
    if (m.pos < 0 || size_t(m.pos) >= src.size()) return fallback;
    size_t r = size_t(m.pos);
    // Skip node properties: a tag (!!str) and an anchor (&a) may precede the scalar.
    while (r < src.size() && (src[r] == '!' || src[r] == '&')) {
        while (r < src.size() && !is_space(src[r]))
            ++r;
        while (r < src.size() && (src[r] == ' ' || src[r] == '\t'))
            ++r;
    }
    if (r >= src.size()) return fallback;
    char style = src[r];
    if (style == '\'' || style == '"') {
        ++r;
    } else if (style == '|' || style == '>') {
        r = src.find('\n', r);  // the content starts on the line after the header
        if (r == std::string::npos) return fallback;
        ++r;
    } else {
        style = 0;
    }
    offset = std::min(offset, dec.size());
    size_t d = 0;
    while (d < offset && r < src.size()) {
        if (style == '"' && src[r] == '\\') {
            if (r + 1 < src.size() && (src[r + 1] == '\n' || src[r + 1] == '\r')) {
                ++r;  // an escaped line break: it and the next line's indentation vanish
                while (r < src.size() && is_space(src[r]))
                    ++r;
                continue;
            }
            size_t raw = 0, decoded = 0;
            escape_sizes(src, r, raw, decoded);
            r += raw;
            d += decoded;
            continue;
        }
        if (style == '\'' && src[r] == '\'' && r + 1 < src.size() && src[r + 1] == '\'') {
            r += 2;
            ++d;
            continue;
        }
        if (src[r] == dec[d]) {
            ++r;
            ++d;
            continue;
        }
        if (is_space(src[r])) {
            // Line folding or block indentation: whitespace runs differ between the two texts.
            if (is_space(dec[d]))
                while (d < offset && is_space(dec[d]))
                    ++d;
            while (r < src.size() && is_space(src[r]))
                ++r;
            continue;
        }
        return fallback;
    }
    return ctx.mark_at_offset(r);
}

void for_each_entry(
    Context& ctx, const YAML::Node& map,
    const std::function<void(const std::string&, const YAML::Node&, const YAML::Node&)>& f) {
    std::map<std::string, int> seen;  // key -> 1-based line of its first occurrence
    // Range-for keeps each entry alive; `it->first` would bind to a dying proxy.
    for (const auto& entry : map) {
        const YAML::Node& key = entry.first;
        if (!key.IsScalar()) {
            ctx.error(key, "a mapping key must be a string, got " + describe_node(ctx, key));
            continue;
        }
        const std::string& text = key.Scalar();
        auto [pos, inserted] = seen.emplace(text, ctx.mark(key).line);
        if (!inserted) {
            ctx.error(key, "duplicate key '" + text + "' (first at line " +
                               std::to_string(pos->second) + ")");
            continue;
        }
        f(text, key, entry.second);
    }
}

namespace {

// Optimal string alignment distance: Levenshtein plus adjacent transpositions ("nedes" for
// "needs" is one edit, not two).
// Optimal string alignment distance, three rows at a time (a row per character of a
// was an allocation each).
size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<size_t> before(b.size() + 1), previous(b.size() + 1), current(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j)
        previous[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        current[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                current[j] = std::min(current[j], before[j - 2] + 1);
        }
        std::swap(before, previous);
        std::swap(previous, current);
    }
    return previous[b.size()];
}

}  // namespace

std::string clipped_name(std::string_view name) {
    if (name.size() <= kMaxQuotedName) return std::string(name);
    return std::string(name.substr(0, utf8_cut(name, kMaxQuotedName - 3))) + "... (" +
           std::to_string(name.size()) + " bytes)";
}

bool is_whole_number_text(std::string_view text) {
    if (!text.empty() && (text[0] == '+' || text[0] == '-')) text.remove_prefix(1);
    return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c)) != 0;
    });
}

bool is_identifier(std::string_view s) {
    if (s.empty()) return false;
    auto alpha = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    };
    if (!alpha(s[0])) return false;
    return std::all_of(s.begin() + 1, s.end(),
                       [&](char c) { return alpha(c) || is_digit(c) || c == '-'; });
}

std::string identifier_problem(std::string_view what, std::string_view name) {
    return "invalid " + std::string(what) + " '" + std::string(name) +
           "': use letters, digits, '_' and '-', starting with a letter or '_'";
}

}  // namespace ferry::workflow::detail

namespace ferry::workflow {

std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
    // A third of the word's length (at least one edit): close enough to be a typo, far
    // enough apart that "id" is not offered for "x".
    size_t limit = std::max<size_t>(1, (word.size() + 2) / 3);
    // No name is that long by a typo; a megabyte of one (a hook's payload key) took seconds.
    if (word.size() > kMaxSuggestedLength) return "";
    const std::string* best = nullptr;
    size_t best_distance = limit + 1;
    for (const std::string& c : candidates) {
        if (c == word) continue;
        // The distance is at least the difference in length.
        if ((c.size() > word.size() ? c.size() - word.size() : word.size() - c.size()) > limit)
            continue;
        size_t dist = detail::edit_distance(word, c);
        // Replacing every character is no typo: 'q' does not suggest 'a'.
        if (dist >= std::max(word.size(), c.size())) continue;
        if (dist < best_distance) {
            best_distance = dist;
            best = &c;
        }
    }
    if (!best && word.size() >= 3) {
        // A shortened name ("before" for "before_step"), when only one candidate fits.
        for (const std::string& c : candidates) {
            if (!c.starts_with(word)) continue;
            if (best) return "";
            best = &c;
        }
    }
    return best ? " (did you mean '" + *best + "'?)" : "";
}

}  // namespace ferry::workflow

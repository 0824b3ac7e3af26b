// Request form values: what a person typed (or a client sent as JSON) converted to the
// field's type and checked with the same rules as workflow inputs, so a form and the
// workflow it starts never disagree on what "valid" means.
#include "workflow/loader_internal.h"
#include "workflow/project_config.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>

namespace ferry::workflow {

namespace {

using tmpl::Value;

Error problem(std::string message) {
    return make_error(ErrorKind::Validation, std::move(message));
}

std::string trim(std::string_view s) {
    size_t b = 0, e = s.size();
    while (b < e && std::isspace(static_cast<unsigned char>(s[b])))
        ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1])))
        --e;
    return std::string(s.substr(b, e - b));
}

// Deliberately loose (one @, something on each side, a dot in the domain, no spaces or
// control characters, which no address holds: a NUL, a terminal's ESC sequence): the
// authoritative check is whether mail arrives, and strict grammars reject real addresses.
bool looks_like_email(std::string_view s) {
    size_t at = s.find('@');
    if (at == std::string_view::npos || at == 0 || s.find('@', at + 1) != std::string_view::npos)
        return false;
    std::string_view domain = s.substr(at + 1);
    size_t dot = domain.find('.');
    if (dot == std::string_view::npos || dot == 0 || domain.back() == '.') return false;
    for (size_t i = 0; i < s.size(); ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c <= 0x20 || c == 0x7F) return false;
        // C1 controls, U+0080-U+009F (C2 80-C2 9F), and U+0085 NEXT LINE among them.
        if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) <= 0x9F)
            return false;
    }
    return true;
}

bool digits(std::string_view s, size_t pos, size_t n, int& out) {
    if (pos + n > s.size()) return false;
    out = 0;
    for (size_t i = pos; i < pos + n; ++i) {
        if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
        out = out * 10 + (s[i] - '0');
    }
    return true;
}

bool valid_date(std::string_view s) {
    int y, m, d;
    if (s.size() != 10 || s[4] != '-' || s[7] != '-' || !digits(s, 0, 4, y) ||
        !digits(s, 5, 2, m) || !digits(s, 8, 2, d))
        return false;
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12 || d < 1) return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= days[m - 1] + (m == 2 && leap ? 1 : 0);
}

std::optional<Value> parse_number(const std::string& text_given, bool integer) {
    // "+5" is 5 as "5" is (from_chars takes no '+'; strtod would make it 5.0).
    std::string_view text = text_given;
    if (text.size() > 1 && text[0] == '+' && text[1] != '-' && text[1] != '+')
        text.remove_prefix(1);
    if (text.empty()) return std::nullopt;
    int64_t i = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), i);
    if (ec == std::errc() && end == text.data() + text.size()) return Value::integer(i);
    if (integer && ec == std::errc::result_out_of_range) return std::nullopt;
    errno = 0;
    char* stop = nullptr;
    const std::string whole(text);
    double d = std::strtod(whole.c_str(), &stop);
    // An underflow (1e-400) is 0, as the same number in a JSON body reads; an overflow
    // is refused.
    if (*stop || (errno == ERANGE && std::abs(d) > 1) || !std::isfinite(d) ||
        whole.find_first_of("xXpP") != std::string::npos)
        return std::nullopt;
    return Value::floating(d);
}

std::string choice_text(const Value& v) {
    if (v.is_string()) return std::string(v.str());
    if (v.is_int()) return std::to_string(v.as_int());
    return {};
}

Status check_choice(const FormField& f, const std::string& s) {
    if (std::find(f.choices.begin(), f.choices.end(), s) != f.choices.end()) return ok_status();
    return problem("'" + s + "' is not one of the choices (" + detail::join(f.choices) + ")");
}

}  // namespace

// RFC 3339 date-time, or an HTML datetime-local value ("2026-01-31T10:00", no offset,
// taken as UTC). Returns the RFC 3339 text, seconds included, or "" when invalid.
std::string normalize_datetime(std::string_view s) {
    if (s.size() < 16 || !valid_date(s.substr(0, 10))) return "";
    if (s[10] != 'T' && s[10] != 't' && s[10] != ' ') return "";
    int hh, mm, ss = 0;
    if (!digits(s, 11, 2, hh) || s[13] != ':' || !digits(s, 14, 2, mm) || hh > 23 || mm > 59)
        return "";
    size_t pos = 16;
    std::string frac;
    if (pos < s.size() && s[pos] == ':') {
        // Not :60: a leap second comes only at 23:59:60 UTC, and the systems a form's
        // value goes on to (ServiceNow, Python, Go's RFC 3339) refuse it anyway.
        if (!digits(s, pos + 1, 2, ss) || ss > 59) return "";
        pos += 3;
        if (pos < s.size() && s[pos] == '.') {
            size_t end = pos + 1;
            while (end < s.size() && std::isdigit(static_cast<unsigned char>(s[end])))
                ++end;
            if (end == pos + 1) return "";
            frac = std::string(s.substr(pos, end - pos));
            pos = end;
        }
    }
    std::string zone = "Z";
    if (pos < s.size()) {
        std::string_view z = s.substr(pos);
        int zh, zm;
        if (z == "Z" || z == "z")
            zone = "Z";
        else if (z.size() == 6 && (z[0] == '+' || z[0] == '-') && digits(z, 1, 2, zh) &&
                 z[3] == ':' && digits(z, 4, 2, zm) && zh <= 23 && zm <= 59)
            zone = std::string(z);
        else
            return "";
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.10sT%02d:%02d:%02d", s.data(), hh, mm, ss);
    return buf + frac + zone;
}

const std::vector<std::string>& form_field_types() {
    static const std::vector<std::string> types = {"string",   "text",   "number",       "integer",
                                                   "boolean",  "choice", "multi-choice", "date",
                                                   "datetime", "email"};
    return types;
}

namespace {

// CRLF and a lone CR as LF.
std::string lf_line_breaks(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '\r') {
            out += text[i];
            continue;
        }
        out += '\n';
        if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    }
    return out;
}

}  // namespace

Result<Value> convert_form_value(const FormField& f, const Value& given, PatternBudget& budget) {
    const std::string& t = f.type;
    Value v;
    InputSpec spec;  // the rules shared with workflow inputs
    spec.name = f.name;
    if (t == "string" || t == "text" || t == "email") {
        if (!given.is_string()) return problem("must be text");
        if (t == "email" && !looks_like_email(trim(given.str())))
            return problem("must be an email address like name@example.com");
        v = t == "email" ? Value::string(trim(given.str())) : given;
        // A browser sends a textarea's line breaks as CRLF, and measures its maxlength with
        // one character each (HTML's API value): text the page allowed was refused, and
        // the CRs reached the tickets.
        if (t == "text") v = Value::string(lf_line_breaks(v.str()));
        spec.pattern = f.pattern;
        spec.min_length = f.min_length;
        spec.max_length = f.max_length;
    } else if (t == "number" || t == "integer") {
        bool integer = t == "integer";
        if (given.is_int() || given.is_float())
            v = given;
        else if (given.is_string()) {
            const std::string text = trim(given.str());
            std::optional<Value> n = parse_number(text, integer);
            if (!n && integer && detail::is_whole_number_text(text))
                return problem("is too large for a whole number");
            if (!n) return problem(integer ? "must be a whole number" : "must be a number");
            v = *n;
        } else
            return problem(integer ? "must be a whole number" : "must be a number");
        if (integer && v.is_float()) {
            double d = v.as_float();
            if (std::trunc(d) != d) return problem("must be a whole number");
            // Past 2^53 a JSON number is a float that no longer holds every digit.
            if (std::abs(d) > 9e15) return problem("is too large for a whole number");
            v = Value::integer(int64_t(d));
        }
        spec.type = integer ? "integer" : "number";
        spec.min = f.min;
        spec.max = f.max;
    } else if (t == "boolean") {
        if (given.is_bool())
            v = given;
        else if (given.is_string()) {
            std::string s = trim(given.str());
            std::transform(s.begin(), s.end(), s.begin(), ::tolower);
            if (s == "true" || s == "on" || s == "yes" || s == "1")
                v = Value::boolean(true);
            else if (s == "false" || s == "off" || s == "no" || s == "0")
                v = Value::boolean(false);
            else
                return problem("must be true or false");
        } else
            return problem("must be true or false");
        return v;
    } else if (t == "choice") {
        std::string s = choice_text(given);
        if (!given.is_string() && !given.is_int()) return problem("must be one of the choices");
        if (Status ok = check_choice(f, s); !ok) return ok.error();
        return Value::string(s);
    } else if (t == "multi-choice") {
        std::vector<Value> items;
        if (given.is_string() || given.is_int())
            items.push_back(given);
        else if (given.is_sequence())
            items = given.list_obj().items;
        else
            return problem("must be a list of choices");
        std::vector<Value> out;
        std::vector<std::string> seen;
        for (const Value& item : items) {
            if (!item.is_string() && !item.is_int()) return problem("must be a list of choices");
            std::string s = choice_text(item);
            if (Status ok = check_choice(f, s); !ok) return ok.error();
            if (std::find(seen.begin(), seen.end(), s) != seen.end()) continue;  // checked twice
            seen.push_back(s);
            out.push_back(Value::string(s));
        }
        v = Value::list(std::move(out));
        spec.type = "array";
        spec.min_length = f.min_length;
        spec.max_length = f.max_length;
    } else if (t == "date") {
        if (!given.is_string() || !valid_date(trim(given.str())))
            return problem("must be a date like 2026-01-31");
        return Value::string(trim(given.str()));
    } else if (t == "datetime") {
        std::string n = given.is_string() ? normalize_datetime(trim(given.str())) : "";
        if (n.empty())
            return problem("must be a date and time like 2026-01-31T14:30 (UTC) or "
                           "2026-01-31T14:30:00+01:00");
        return Value::string(n);
    } else {
        return problem("has an unknown type '" + t + "'");
    }
    std::vector<std::string> found;
    detail::check_input_value(spec, v, f.name, budget, found);
    if (found.empty()) return v;
    std::string message;
    std::string prefix = "input '" + f.name + "': ";
    for (std::string& m : found) {
        if (m.rfind(prefix, 0) == 0) m = m.substr(prefix.size());
        message += (message.empty() ? "" : "; ") + m;
    }
    return problem(message);
}

}  // namespace ferry::workflow

#include "runtime/integration/secrets.h"

#include "runtime/http_text.h"
#include "runtime/json_writer.h"
#include "runtime/utf8.h"

#include <cctype>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include <sys/stat.h>

namespace ferry {

namespace {

struct Reference {
    std::string_view scheme;
    std::string_view name;
};

// "${scheme:name}" split, or nullopt when text is not shaped like a reference at all.
std::optional<Reference> split_reference(std::string_view text) {
    if (text.size() < 4 || text.substr(0, 2) != "${" || text.back() != '}') return std::nullopt;
    std::string_view inner = text.substr(2, text.size() - 3);
    size_t colon = inner.find(':');
    if (colon == std::string_view::npos) return Reference{inner, {}};
    return Reference{inner.substr(0, colon), inner.substr(colon + 1)};
}

// The first occurrence of needle in hay at or after from, or npos. glibc's memmem (two-way)
// rather than std::string::find (memchr on the first byte, then memcmp): every history
// record passes through here, and in long texts a secret's first byte is often common.
size_t find_in(std::string_view hay, std::string_view needle, size_t from) {
    if (from > hay.size()) return std::string_view::npos;
    const void* hit = memmem(hay.data() + from, hay.size() - from, needle.data(), needle.size());
    return hit ? size_t(static_cast<const char*>(hit) - hay.data()) : std::string_view::npos;
}

}  // namespace

bool is_secret_reference(std::string_view text) {
    auto ref = split_reference(text);
    return ref && (ref->scheme == "env" || ref->scheme == "file") && !ref->name.empty();
}

Status check_secret_syntax(std::string_view text) {
    auto ref = split_reference(text);
    const bool mentions = text.find("${env:") != std::string_view::npos ||
                          text.find("${file:") != std::string_view::npos;
    // "${env:A}${env:B}" or "Bearer ${env:T}" would otherwise go out as written.
    if (mentions && (!ref || ref->name.find('}') != std::string_view::npos ||
                     ref->name.find("${") != std::string_view::npos)) {
        // Named by its references only: the text around them may be a literal secret.
        std::string refs;
        for (size_t at = text.find("${"); at != std::string_view::npos;
             at = text.find("${", at + 2)) {
            const std::string_view rest = text.substr(at);
            if (!rest.starts_with("${env:") && !rest.starts_with("${file:")) continue;
            const size_t scheme_end = rest.find(':') + 1;
            const size_t stop = rest.find_first_of("}$ \t\r\n", scheme_end);
            refs += refs.empty() ? "" : ", ";
            refs += stop != std::string_view::npos && rest[stop] == '}'
                        ? std::string(rest.substr(0, stop + 1))
                        : std::string(rest.substr(0, scheme_end)) + "... (not closed)";
        }
        return make_error(ErrorKind::Validation,
                          "a secret is exactly one reference, ${env:NAME} or ${file:PATH}, "
                          "with nothing around it (this value has text beside " +
                              refs + "; the value is not shown)");
    }
    if (!ref) return ok_status();
    if (ref->scheme != "env" && ref->scheme != "file") {
        return make_error(ErrorKind::Validation, "unknown secret reference '${" +
                                                     std::string(ref->scheme) +
                                                     ":...}': use ${env:NAME} or ${file:PATH}");
    }
    if (ref->name.empty()) {
        return make_error(ErrorKind::Validation, "empty secret reference '" + std::string(text) +
                                                     "': use ${env:NAME} or ${file:PATH}");
    }
    return ok_status();
}

Result<std::string> resolve_secret(std::string_view text) {
    if (Status s = check_secret_syntax(text); !s) return s.error();
    auto ref = split_reference(text);
    if (!ref) return std::string(text);  // a literal (discouraged, but allowed)
    std::string name(ref->name);
    std::string value;
    if (ref->scheme == "env") {
        const char* v = std::getenv(name.c_str());
        if (!v) {
            return make_error(ErrorKind::Validation, "secret ${env:" + name +
                                                         "}: environment variable " + name +
                                                         " is not set");
        }
        value = v;
    } else {
        // A directory opens as a stream and reads as nothing: refused by kind first.
        struct stat st {};
        const bool exists = ::stat(name.c_str(), &st) == 0;
        std::ifstream in;
        if (exists && S_ISREG(st.st_mode)) in.open(name, std::ios::binary);
        if (!in.is_open() || !in) {
            return make_error(ErrorKind::Validation,
                              "secret ${file:" + name + "}: cannot read the file" +
                                  (exists && !S_ISREG(st.st_mode) ? " (not a regular file)" : ""));
        }
        // A token, a password, a key: never megabytes. A wrong path to a large file was
        // read (and searched for in every record) again and again (ferry serve re-reads
        // them every second).
        if (st.st_size > off_t(kMaxSecretFileBytes)) {
            return make_error(ErrorKind::Validation,
                              "secret ${file:" + name + "}: the file holds " +
                                  std::to_string(st.st_size) + " bytes; a secret is at most " +
                                  std::to_string(kMaxSecretFileBytes / 1024) + " KiB");
        }
        std::ostringstream s;
        s << in.rdbuf();
        if (in.bad()) {
            return make_error(ErrorKind::Validation,
                              "secret ${file:" + name + "}: cannot read the file");
        }
        value = s.str();
        if (!value.empty() && value.back() == '\n') value.pop_back();
        if (!value.empty() && value.back() == '\r') value.pop_back();
    }
    // An empty credential would go out as "Splunk " or "user:" and fail as a confusing 401
    // (or count towards an account lockout): refused before anything is sent.
    if (value.empty()) {
        return make_error(ErrorKind::Validation, "secret " + std::string(text) + ": the " +
                                                     (ref->scheme == "env" ? "variable" : "file") +
                                                     " is empty");
    }
    Redactor::instance().add(value);
    return value;
}

Redactor& Redactor::instance() {
    static Redactor r;
    return r;
}

namespace {

std::string json_escaped(std::string_view text) {
    rapidjson::StringBuffer out;
    append_json_escaped(out, text);
    return std::string(out.GetString(), out.GetSize());
}

// JSON escaping as encoders that write ASCII only do it (Python's json.dumps by default):
// every non-ASCII character as \uXXXX (a pair beyond the BMP). Empty when text is ASCII.
std::string ascii_json_escaped(std::string_view text, bool upper) {
    std::string escaped = json_escaped(text);
    std::string out;
    bool changed = false;
    const char* hex = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    auto unit = [&](uint32_t u) {
        out += "\\u";
        for (int shift = 12; shift >= 0; shift -= 4)
            out += hex[(u >> shift) & 15];
    };
    for (size_t i = 0; i < escaped.size();) {
        auto c = static_cast<unsigned char>(escaped[i]);
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (len <= 1 || i + len > escaped.size()) {
            out += escaped[i++];
            continue;
        }
        uint32_t cp = c & (0xFF >> (len + 1));
        for (size_t k = 1; k < len; ++k)
            cp = (cp << 6) | (static_cast<unsigned char>(escaped[i + k]) & 0x3F);
        if (cp >= 0x10000) {
            cp -= 0x10000;
            unit(0xD800 + (cp >> 10));
            unit(0xDC00 + (cp & 0x3FF));
        } else {
            unit(cp);
        }
        changed = true;
        i += len;
    }
    return changed ? out : std::string();
}

// Every "/" as "\/"; empty when there is none.
std::string solidus_escaped(std::string_view text) {
    if (text.find('/') == std::string_view::npos) return {};
    std::string out;
    for (char c : text) {
        if (c == '/') out += '\\';
        out += c;
    }
    return out;
}

void add_form(std::vector<std::string>& forms, std::string form) {
    if (!form.empty() && std::find(forms.begin(), forms.end(), form) == forms.end())
        forms.push_back(std::move(form));
}

}  // namespace

void Redactor::add(std::string value) {
    if (value.size() < 4) return;
    // Records are UTF-8: a secret that is not (a Latin-1 password) reaches them with its
    // stray bytes as U+FFFD, which is the form to find there.
    if (invalid_utf8_at(value) != std::string::npos) add(to_valid_utf8(value));
    std::lock_guard lock(mu_);
    for (Secret& known : secrets_) {
        if (known.value == value) {
            ++known.adds;
            return;
        }
    }
    Secret secret;
    secret.value = std::move(value);
    secret.escaped = json_escaped(secret.value);
    add_form(secret.text_forms, secret.value);
    add_form(secret.text_forms, secret.escaped);
    add_form(secret.text_forms, ascii_json_escaped(secret.value, false));
    add_form(secret.text_forms, ascii_json_escaped(secret.value, true));
    // JSON allows "\/" for "/", and PHP's json_encode writes it so by default: a vendor
    // echoing the secret back in an error body escapes it that way.
    for (size_t i = 0, n = secret.text_forms.size(); i < n; ++i)
        add_form(secret.text_forms, solidus_escaped(secret.text_forms[i]));
    // A JSON text kept as a string inside another JSON text (a vendor's field holding the
    // JSON of a request it received) escapes those forms once more: `\"` as `\\\"`.
    for (size_t i = 0, n = secret.text_forms.size(); i < n; ++i)
        if (secret.text_forms[i].find('\\') != std::string::npos)
            add_form(secret.text_forms, json_escaped(secret.text_forms[i]));
    // Percent-encoded, as a vendor echoes it in a URL (a redirect's Location, a link in an
    // error body) or a form body: every reserved character encoded, upper or lower hex; as
    // Python's quote() and JavaScript's encodeURIComponent and encodeURI leave some; with
    // spaces as '+'. Only the forms that differ from the value are added.
    std::string encoded = url_encode(secret.value);
    add_form(secret.text_forms, encoded);
    add_form(secret.text_forms, url_encode(secret.value, {}, true));
    add_form(secret.text_forms, url_encode(secret.value, "/"));
    add_form(secret.text_forms, url_encode(secret.value, "!'()*"));
    add_form(secret.text_forms, url_encode(secret.value, ";,/?:@&=+$!'()*#"));
    for (size_t at = 0; (at = encoded.find("%20", at)) != std::string::npos;)
        encoded.replace(at, 3, "+");
    add_form(secret.text_forms, encoded);
    for (const std::string& form : secret.text_forms)
        add_form(secret.json_forms, json_escaped(form));
    auto longest_first = [](const std::string& a, const std::string& b) {
        return a.size() > b.size();
    };
    std::stable_sort(secret.text_forms.begin(), secret.text_forms.end(), longest_first);
    std::stable_sort(secret.json_forms.begin(), secret.json_forms.end(), longest_first);
    for (const auto* forms : {&secret.text_forms, &secret.json_forms})
        for (const std::string& form : *forms)
            for (size_t i = 0; i + kMinClippedPrefix <= form.size(); ++i)
                secret.quads.insert(quad_at(form, i));
    secrets_.push_back(std::move(secret));
    // Longest first, so a value containing another is replaced whole.
    std::sort(secrets_.begin(), secrets_.end(),
              [](const Secret& a, const Secret& b) { return a.value.size() > b.value.size(); });
}

void Redactor::remove(const std::string& value) {
    if (value.size() < 4) return;
    if (invalid_utf8_at(value) != std::string::npos) remove(to_valid_utf8(value));
    std::lock_guard lock(mu_);
    auto it = std::find_if(secrets_.begin(), secrets_.end(),
                           [&](const Secret& s) { return s.value == value; });
    if (it != secrets_.end() && --it->adds == 0) secrets_.erase(it);
}

bool Redactor::empty() const {
    std::lock_guard lock(mu_);
    return secrets_.empty();
}

size_t Redactor::safe_cut(std::string_view text, size_t cut) const {
    if (cut >= text.size()) return text.size();
    std::lock_guard lock(mu_);
    // Only a window around the cut can hold a secret it splits; moving the cut to such a
    // secret's start may split another (overlapping forms), hence the rounds.
    for (bool moved = true; moved;) {
        moved = false;
        for (const Secret& s : secrets_) {
            for (const std::string& form : s.text_forms) {
                if (form.size() < 2 || cut == 0) continue;
                const size_t from = cut >= form.size() - 1 ? cut - (form.size() - 1) : 0;
                const size_t to = std::min(text.size(), cut + form.size() - 1);
                std::string_view window = text.substr(from, to - from);
                for (size_t at = window.find(form); at != std::string_view::npos;
                     at = window.find(form, at + 1)) {
                    if (from + at < cut && from + at + form.size() > cut) {
                        cut = from + at;
                        moved = true;
                        break;
                    }
                }
            }
        }
    }
    return cut;
}

std::string Redactor::redact(std::string_view text) const {
    std::lock_guard lock(mu_);
    // The percent-encoded forms cannot be in a text without a '%' (most texts): one scan
    // for it instead of a search per form (they cost 4 % of a ticket's CPU).
    const bool percent = text.find('%') != std::string_view::npos;
    // Every occurrence of every form in the text as given, then replaced span by span: two
    // secrets that overlap (one's end the other's start) are one span, where replacing the
    // first left the second's tail behind.
    std::vector<std::pair<size_t, size_t>> spans;
    for (const Secret& s : secrets_) {
        for (const std::string& form : s.text_forms) {
            if (!percent && form.find('%') != std::string::npos) continue;
            for (size_t pos = find_in(text, form, 0); pos != std::string_view::npos;
                 pos = find_in(text, form, pos + 1))
                spans.emplace_back(pos, pos + form.size());
        }
    }
    std::sort(spans.begin(), spans.end());
    std::string out;
    out.reserve(text.size());
    size_t copied = 0;
    for (size_t i = 0; i < spans.size();) {
        const size_t start = spans[i].first;
        size_t end = spans[i].second;
        for (++i; i < spans.size() && spans[i].first < end; ++i)
            end = std::max(end, spans[i].second);
        out.append(text, copied, start - copied).append(kRedacted);
        copied = end;
    }
    out.append(text, copied);
    for (size_t pos = 0; (pos = out.find(kClipMark, pos)) != std::string::npos;
         pos += kClipMark.size()) {
        if (pos > 0 && out[pos - 1] == '.') continue;  // inside a run of dots: its start counts
        size_t start = clipped_secret_start(
            out, pos, [](size_t) { return true; }, false);
        if (start == pos) continue;
        out.replace(start, pos - start, kRedacted);
        pos = start + kRedacted.size();
    }
    return out;
}

// Where the first part of a secret cut by a clip (ferry.text.clip: the text's start and
// "...") begins in text before clip_at, or clip_at: the longest proper prefix, of at least
// kMinClippedPrefix bytes, of one of the secret's text (or JSON) forms, starting where
// at_boundary says a character begins. Callers hold mu_.
template <typename Boundary>
size_t Redactor::clipped_secret_start(std::string_view text, size_t clip_at,
                                      const Boundary& at_boundary, bool json) const {
    // Linear in the secrets' length, whatever the text: the 4 bytes before the clip must
    // occur in some form (a set lookup), and a prefix is compared only where its first
    // byte matches (a 1.6 KB key before every "..." of a 60 KB line took seconds).
    if (clip_at < kMinClippedPrefix) return clip_at;
    const uint32_t tail = quad_at(text, clip_at - kMinClippedPrefix);
    size_t best = clip_at;
    for (const Secret& s : secrets_) {
        if (!s.quads.count(tail)) continue;
        for (const std::string& form : json ? s.json_forms : s.text_forms) {
            const size_t longest = std::min(form.size() - 1, clip_at);
            for (size_t start = clip_at - longest; start + kMinClippedPrefix <= clip_at; ++start) {
                if (start >= best) break;  // no longer than one found already
                if (text[start] != form[0]) continue;
                if (text.compare(start, clip_at - start, form, 0, clip_at - start) == 0 &&
                    at_boundary(start)) {
                    best = start;
                    break;
                }
            }
        }
    }
    return best;
}

std::string Redactor::redact_json(std::string_view json) const {
    std::string out(json);
    redact_json_in_place(out);
    return out;
}

bool Redactor::clip_may_cut_secret(std::string_view json) const {
    for (size_t at = json.find(kClipMark); at != std::string_view::npos;
         at = json.find(kClipMark, at + 1)) {
        if (at < kMinClippedPrefix || json[at - 1] == '.') continue;
        const uint32_t tail = quad_at(json, at - kMinClippedPrefix);
        for (const Secret& s : secrets_)
            if (s.quads.count(tail)) return true;
    }
    return false;
}

bool Redactor::holds_secret_json(std::string_view json) const {
    std::lock_guard lock(mu_);
    return holds_secret_locked(json);
}

bool Redactor::holds_secret_locked(std::string_view json) const {
    bool any = false;
    const bool percent = json.find('%') != std::string::npos;  // as in redact()
    for (const Secret& s : secrets_) {
        // The raw value matters only for a number token; it differs from the escaped form
        // only when the secret has a character JSON escapes.
        any = s.escaped != s.value && find_in(json, s.value, 0) != std::string_view::npos;
        for (size_t f = 0; !any && f < s.json_forms.size(); ++f) {
            const std::string& form = s.json_forms[f];
            if (!percent && form.find('%') != std::string::npos) continue;
            any = find_in(json, form, 0) != std::string_view::npos;
        }
        if (any) break;
    }
    return any;
}

bool Redactor::redact_json_in_place(std::string& json) const {
    std::lock_guard lock(mu_);
    // Almost every record holds no secret: one search per value decides that.
    const bool any = holds_secret_locked(json);
    // A quote ferry.text.clip cut may end in a secret's first part: looked for before a
    // "..." whose last kMinClippedPrefix bytes occur in some secret's form. Attempt records
    // cut bodies with "...[N more bytes]": most records with a "..." need no second pass.
    const bool clipped = clip_may_cut_secret(json);
    if (!any && !clipped) return false;
    std::vector<size_t> starts;  // where each character of the current string begins in out
    bool cut_secret = false;     // a clip's cut part of one was redacted

    // The length of the longest secret's form that starts at pos inside a string, or 0:
    // the first found could be another's shorter spelling, leaving the rest of the longer.
    auto secret_at = [&](size_t pos) -> size_t {
        size_t longest = 0;
        for (const Secret& s : secrets_)
            for (const std::string& form : s.json_forms)
                if (form.size() > longest && json.compare(pos, form.size(), form) == 0)
                    longest = form.size();
        return longest;
    };
    const size_t n = json.size();
    // The bytes of the character or escape sequence at pos inside a string.
    auto unit_at = [&](size_t pos) -> size_t {
        size_t unit = 1;
        if (json[pos] == '\\') unit = pos + 1 < n && json[pos + 1] == 'u' ? 6 : 2;
        return std::min(unit, n - pos);
    };
    std::string out;
    out.reserve(json.size());
    size_t i = 0;
    while (i < n) {
        const char c = json[i];
        if (c == '"') {
            out.push_back('"');
            ++i;
            starts.clear();
            // Inside a string, i is always at the start of a character or escape sequence.
            while (i < n && json[i] != '"') {
                if (clipped && json.compare(i, kClipMark.size(), kClipMark) == 0 &&
                    json[i - 1] != '.') {
                    size_t start = clipped_secret_start(
                        out, out.size(),
                        [&](size_t at) {
                            return std::binary_search(starts.begin(), starts.end(), at);
                        },
                        true);
                    if (start != out.size()) {
                        cut_secret = true;
                        out.resize(start);
                        out.append(kRedacted);
                        starts.erase(std::lower_bound(starts.begin(), starts.end(), start),
                                     starts.end());
                    }
                }
                if (clipped) starts.push_back(out.size());
                if (size_t len = secret_at(i)) {
                    // A secret that starts inside this one and ends past it (one's end the
                    // other's start) goes with it: replacing the first left its tail.
                    size_t end = i + len;
                    for (size_t at = i + unit_at(i); at < end && at < n; at += unit_at(at))
                        if (size_t more = secret_at(at)) end = std::max(end, at + more);
                    out.append(kRedacted);
                    i = end;
                    continue;
                }
                const size_t unit = unit_at(i);
                out.append(json, i, unit);
                i += unit;
            }
            if (i < n) out.push_back(json[i++]);
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t end = i;
            while (end < n && std::strchr("+-.0123456789eE", json[end]) && json[end] != '\0')
                ++end;
            std::string_view number(json.data() + i, end - i);
            bool secret = false;
            for (const Secret& s : secrets_)
                secret = secret || s.value == number;
            if (secret)
                out.append("\"").append(kRedacted).append("\"");
            else
                out.append(number);
            i = end;
        } else {
            out.push_back(c);
            ++i;
        }
    }
    json.swap(out);
    return any || cut_secret;
}

bool is_credential_header(std::string_view name) {
    static constexpr std::string_view kNames[] = {
        "authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key",
        "api-key",       "x-auth-token",
    };
    for (std::string_view known : kNames) {
        if (known.size() != name.size()) continue;
        bool same = true;
        for (size_t i = 0; i < name.size() && same; ++i)
            same = std::tolower(static_cast<unsigned char>(name[i])) == known[i];
        if (same) return true;
    }
    return false;
}

}  // namespace ferry

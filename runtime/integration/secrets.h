// Secret references (`${env:NAME}`, `${file:PATH}`) and the redactor that keeps their values
// out of everything Ferry writes or answers (CONTRACT.md section 5).
//
// A reference is resolved at use, never at load: a rotated file or variable takes effect on
// the next request, and a missing secret fails the request that needs it (a dry run, which
// sends nothing, needs none). Every resolved value, and the encodings Ferry derives from it
// (the base64 of "user:password", an OAuth access token), is registered with the process-wide
// Redactor; records, logs and error texts pass through redact() before they leave the process.
#pragma once

#include "runtime/error.h"

#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace ferry {

// Whether text is exactly one reference (`${env:NAME}` or `${file:PATH}`).
bool is_secret_reference(std::string_view text);
// A Validation error when text looks like a reference but is malformed ("${env:}",
// "${vault:x}"), so a typo is caught by `ferry validate` instead of sent as a literal.
Status check_secret_syntax(std::string_view text);

// The largest ${file:} secret read (64 KiB): larger is a wrong path, not a credential.
constexpr size_t kMaxSecretFileBytes = 64 * 1024;

// The value of a reference (a literal value comes back as is). File contents lose one
// trailing newline. Errors name the reference, never a value. The value is registered
// with the Redactor.
Result<std::string> resolve_secret(std::string_view text);

// What a secret or a credential header's value is replaced by, wherever Ferry writes it
// (records, previews, dead letters): read back from history, a value holding it lost one.
inline constexpr std::string_view kRedacted = "[REDACTED]";
// What ferry.text.clip puts where it cut a text. Lua code never learns whether a text holds
// a secret (that would let a task test guesses): a secret the cut split is found here,
// where texts are recorded, by its first part (at least kMinClippedPrefix bytes) before it.
inline constexpr std::string_view kClipMark = "...";
inline constexpr size_t kMinClippedPrefix = 4;

class Redactor {
  public:
    static Redactor& instance();
    // Values shorter than 4 bytes are not registered (they would redact ordinary text).
    void add(std::string value);
    // Takes back one add of value (counted: two integrations may be handed the same token):
    // for credentials that rotate (OAuth2 access tokens), so a server that runs for months
    // does not search every text for every token it ever held.
    void remove(const std::string& value);
    // Every registered value replaced by "[REDACTED]", in plain text (a message, a log line).
    std::string redact(std::string_view text) const;
    // The same in JSON text, which must stay valid JSON: a value is found in its escaped form
    // (a secret with a quote or a backslash appears as \" or \\) and only inside strings,
    // never across an escape sequence, so a secret "null" or "1234" cannot turn a record into
    // something no reader parses; a number token that is a whole secret becomes the string
    // "[REDACTED]". In place: history records are redacted as they are written, and a
    // ticket's records (60 KB) were copied whole to find, mostly, nothing.
    // Whether a secret was replaced, whole or the part a clip's cut left of one.
    bool redact_json_in_place(std::string& json) const;
    std::string redact_json(std::string_view json) const;
    // Whether json holds a whole secret (what redact_json replaces, a clip's cut part aside):
    // records say so, since "[REDACTED]" in a record may also be text that was written so.
    bool holds_secret_json(std::string_view json) const;
    // Where to cut text at or before `cut` so that no secret (in any of its text forms) is
    // cut in two: the start of one that straddles the cut, else `cut`. Redaction finds
    // secrets whole, so a prefix kept for a record must end outside them. Searches only a
    // window around the cut.
    size_t safe_cut(std::string_view text, size_t cut) const;
    bool empty() const;

  private:
    bool holds_secret_locked(std::string_view json) const;
    bool clip_may_cut_secret(std::string_view json) const;  // callers hold mu_
    template <typename Boundary>
    size_t clipped_secret_start(std::string_view text, size_t clip_at, const Boundary& at_boundary,
                                bool json) const;
    struct Secret {
        std::string value;
        std::string escaped;  // as JSON writes it inside a string
        // How else a vendor's JSON may spell it (a JSON text inside a plain message): with
        // non-ASCII characters as \u escapes, lower and upper case hex.
        std::vector<std::string> text_forms;
        // The forms a JSON string holds: escaped, and each text form as written inside a
        // string (a vendor's JSON body kept as a string in a record); longest first.
        std::vector<std::string> json_forms;
        // Every 4 bytes (kMinClippedPrefix) that occur in a form: what must end the text
        // before a clip's "..." for a cut part of the secret to be there.
        std::unordered_set<uint32_t> quads;
        size_t adds = 1;
    };
    static_assert(kMinClippedPrefix == sizeof(uint32_t), "quads are kMinClippedPrefix bytes");
    static uint32_t quad_at(std::string_view text, size_t at) {
        uint32_t q = 0;
        std::memcpy(&q, text.data() + at, sizeof q);
        return q;
    }
    mutable std::mutex mu_;        // resolution happens on the loop; replay and tests may differ
    std::vector<Secret> secrets_;  // longest value first
};

inline std::string redact(std::string_view text) {
    return Redactor::instance().redact(text);
}

// Whether an HTTP header (any case) carries credentials by its name alone (Authorization,
// Cookie, X-API-Key...): its value is shown as "[REDACTED]" wherever a request is recorded
// or previewed, whether or not it came from a secret reference. Lua reaches it as
// ferry.http.is_credential_header.
bool is_credential_header(std::string_view name);

}  // namespace ferry

// Request forms (ferry.yaml `forms:`) without the HTTP around them: a submission checked
// field by field (every problem reported at once, for the person to fix in one go), the
// form as JSON Schema, and the HTML page that works without JavaScript.
#pragma once

#include "runtime/http_client.h"
#include "template/value.h"
#include "workflow/project_config.h"

#include <string>
#include <utility>
#include <vector>

namespace ferry::engine::server {

// Field name -> what is wrong with it, in the form's field order (unknown names last).
using FieldErrors = std::vector<std::pair<std::string, std::string>>;

struct FormOutcome {
    tmpl::Value inputs = tmpl::Value::dict();  // converted values, defaults applied
    FieldErrors errors;                        // empty: inputs are ready to start with
    // Names the form does not have past the kMaxUnknownListed listed in errors.
    size_t unlisted_unknown = 0;
    bool ok() const { return errors.empty() && unlisted_unknown == 0; }
};

// submitted: a dict of field name -> value (JSON types or text). null and "" count as not
// given, so an empty HTML input means "no value" rather than "the empty string".
// repeated: fields that took one value and were given more (urlencoded_submission), each
// an error beside the others rather than one of the values picked silently.
// Names a submission gives that the form does not have, each listed as an error up to this
// many; the rest are counted (FormOutcome::unlisted_unknown).
constexpr size_t kMaxUnknownListed = 20;
FormOutcome check_submission(const workflow::FormSpec& form, const tmpl::Value& submitted,
                             const std::vector<std::string>& repeated = {});

struct UrlencodedSubmission {
    tmpl::Value values = tmpl::Value::dict();  // field name -> value, the first one if repeated
    std::vector<std::string> repeated;         // single-valued fields given more than once
    std::string page_key;  // the page's kSubmissionKeyField: one page, one request
};

// The hidden field every form page carries: a key made for that page, which the submit
// takes as its Idempotency-Key. A browser cannot send the header, and a double click or a
// "resend" after a reload filed the request twice. Not an identifier (a '.'), so no field
// of a form can have its name.
inline constexpr const char* kSubmissionKeyField = "ferry.submission";

// An application/x-www-form-urlencoded body as a submission: repeated keys of a
// multi-choice field become a list, an unchecked checkbox (absent) is false.
UrlencodedSubmission urlencoded_submission(const workflow::FormSpec& form, const std::string& body);

// The form as a JSON Schema (draft 2020-12).
tmpl::Value form_schema(const workflow::FormSpec& form);

// The HTML page with the form; `values` (a submission) refills it and `errors` are shown
// next to their fields, after a summary that links to each one.
std::string form_page(const workflow::FormSpec& form, const tmpl::Value& values,
                      const FieldErrors& errors, size_t unlisted_unknown = 0);
// "N more names that are not a field of this form" (FormOutcome::unlisted_unknown).
std::string unlisted_unknown_text(size_t unlisted);

// The page answering a browser's submit: what became of the request, in words (and that
// nothing was sent under a dry run), the execution it started (a link to it), or why it
// could not start.
std::string result_page(const workflow::FormSpec& form, int status, const tmpl::Value& answer,
                        bool dry_run);

// The page answering a browser refused before its form was read (no such form, no access,
// another site's page, a body it cannot read): why, and a link back to the form (submitted:
// the browser posted it, else it asked for the form's page). Unknown and protected forms
// get the same page, as they get the same JSON.
std::string refused_page(std::string_view form_name, std::string_view message, bool submitted);

// Every page's headers: no script, no framing by another site, kept by no cache.
HttpHeaders page_headers();

std::string html_escape(std::string_view text);

}  // namespace ferry::engine::server

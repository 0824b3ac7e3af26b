// Request forms: submissions checked field by field (all errors at once), urlencoded bodies,
// the JSON Schema and the HTML page.
#include "server/forms.h"

#include "core/values.h"
#include "template/environment.h"

#include <catch2/catch.hpp>

#include <algorithm>

using namespace ferry;
using namespace ferry::engine;
using namespace ferry::engine::server;
using tmpl::Value;

namespace {

workflow::FormSpec sample() {
    auto r = workflow::load_project_config_text(R"(forms:
  change:
    title: Change <request>
    workflow: change-request
    fields:
      - {name: device, label: Device, type: string, required: true, pattern: "^[a-z0-9-]+$"}
      - {name: window, label: Change window, type: datetime, required: true}
      - {name: risk, type: choice, choices: [low, medium, high], default: low}
      - {name: hosts, type: integer, min: 1, max: 10, help: "How many \"hosts\""}
      - {name: teams, type: multi-choice, choices: [net, sec]}
      - {name: urgent, type: boolean}
      - {name: notes, type: text}
      - {name: day, type: date}
      - {name: owner, type: email}
)",
                                                "ferry.yaml");
    REQUIRE(r.ok());
    return r.config.form_specs.at(0);
}

}  // namespace

TEST_CASE("submission: converted inputs with defaults", "[forms]") {
    auto form = sample();
    Value sub = tmpl::value_from_json(
        R"({"device":"sw-1","window":"2026-03-01T22:00","hosts":"3","teams":["sec","net"]})");
    FormOutcome out = check_submission(form, sub);
    INFO(out.errors.size());
    REQUIRE(out.errors.empty());
    CHECK(
        to_json_text(out.inputs) ==
        R"({"device":"sw-1","window":"2026-03-01T22:00:00Z","risk":"low","hosts":3,"teams":["sec","net"]})");
}

TEST_CASE("submission: every field error at once", "[forms]") {
    auto form = sample();
    Value sub = tmpl::value_from_json(
        R"({"device":"SW 1","hosts":99,"risk":"extreme","owner":"nobody","extra":1})");
    FormOutcome out = check_submission(form, sub);
    REQUIRE(out.errors.size() == 6);
    CHECK(out.errors[0].first == "device");
    CHECK(out.errors[1] == std::pair<std::string, std::string>{"window", "is required"});
    CHECK(out.errors[2].first == "risk");
    CHECK(out.errors[3].first == "hosts");
    CHECK(out.errors[4].first == "owner");
    CHECK(out.errors[5] ==
          std::pair<std::string, std::string>{"extra", "is not a field of this form"});
}

TEST_CASE("submission: a multi-choice with min_length takes no empty answer", "[forms]") {
    auto r = workflow::load_project_config_text(R"(forms:
  pick:
    workflow: w
    fields:
      - {name: m, type: multi-choice, choices: [x, y, z], min_length: 1, max_length: 2}
      - {name: free, type: multi-choice, choices: [x, y]}
)",
                                                "ferry.yaml");
    REQUIRE(r.ok());
    const auto& form = r.config.form_specs.at(0);
    // None picked (the page sends the empty list): refused as the schema's minItems says.
    FormOutcome none = check_submission(form, tmpl::value_from_json(R"({"m":[],"free":[]})"));
    REQUIRE(none.errors.size() == 1);
    CHECK(none.errors[0] ==
          std::pair<std::string, std::string>{"m", "has 0 items; the minimum is 1"});
    // Not given at all: an optional field, as in JSON Schema.
    FormOutcome absent = check_submission(form, tmpl::value_from_json(R"({})"));
    CHECK(absent.errors.empty());
    FormOutcome three = check_submission(form, tmpl::value_from_json(R"({"m":["x","y","z"]})"));
    REQUIRE(three.errors.size() == 1);
    CHECK(three.errors[0].first == "m");
    FormOutcome one = check_submission(form, tmpl::value_from_json(R"({"m":["y"]})"));
    CHECK(one.errors.empty());
    CHECK(to_json_text(one.inputs) == R"({"m":["y"]})");
}

TEST_CASE("submission: a list for a single-valued field is a type error, not a missing value",
          "[forms]") {
    // `"risk": []` used to read as "not given", so the default (low) was silently taken.
    auto form = sample();
    Value sub = tmpl::value_from_json(
        R"({"device":[],"window":"2026-03-01T22:00","risk":[],"hosts":[],"urgent":[]})");
    FormOutcome out = check_submission(form, sub);
    REQUIRE(out.errors.size() == 4);
    CHECK(out.errors[0] == std::pair<std::string, std::string>{"device", "must be text"});
    CHECK(out.errors[1] ==
          std::pair<std::string, std::string>{"risk", "must be one of the choices"});
    CHECK(out.errors[2] == std::pair<std::string, std::string>{"hosts", "must be a whole number"});
    CHECK(out.errors[3] == std::pair<std::string, std::string>{"urgent", "must be true or false"});
    // null and "" are still "not given": the default applies, a required field is missing.
    out = check_submission(
        form, tmpl::value_from_json(R"({"device":null,"window":"2026-03-01T22:00","risk":""})"));
    REQUIRE(out.errors.size() == 1);
    CHECK(out.errors[0] == std::pair<std::string, std::string>{"device", "is required"});
}

TEST_CASE("urlencoded: repeated keys, unchecked boxes, empty inputs", "[forms]") {
    auto form = sample();
    UrlencodedSubmission sub = urlencoded_submission(
        form, "device=sw-2&window=2026-03-01T22%3A00&teams=net&teams=sec&hosts=&notes=a+b");
    CHECK(sub.repeated.empty());
    FormOutcome out = check_submission(form, sub.values, sub.repeated);
    REQUIRE(out.errors.empty());
    CHECK(
        to_json_text(out.inputs) ==
        R"({"device":"sw-2","window":"2026-03-01T22:00:00Z","risk":"low","teams":["net","sec"],"urgent":false,"notes":"a b"})");
    Value checked = urlencoded_submission(form, "urgent=true").values;
    CHECK(checked.dict_obj().find("urgent")->str() == "true");
}

TEST_CASE("urlencoded: a single-valued field given twice is a field error among the others",
          "[forms]") {
    auto form = sample();
    UrlencodedSubmission sub = urlencoded_submission(
        form, "device=sw-2&device=sw-3&hosts=99&risk=low&risk=low&teams=net&teams=sec&x=1&x=2");
    CHECK(sub.repeated == std::vector<std::string>{"device", "risk"});
    // The first value stays, to refill the page the person corrects.
    CHECK(sub.values.dict_obj().find("device")->str() == "sw-2");
    FormOutcome out = check_submission(form, sub.values, sub.repeated);
    using Error = std::pair<std::string, std::string>;
    REQUIRE(out.errors.size() == 5);
    CHECK(out.errors[0] == Error{"device", "given more than once"});
    CHECK(out.errors[1] == Error{"window", "is required"});
    CHECK(out.errors[2] == Error{"risk", "given more than once"});
    CHECK(out.errors[3].first == "hosts");
    CHECK(out.errors[4] == Error{"x", "is not a field of this form"});
}

TEST_CASE("schema: JSON Schema 2020-12 with formats, enums and bounds", "[forms]") {
    std::string s = to_json_text(form_schema(sample()));
    CHECK(s.find(R"("$schema":"https://json-schema.org/draft/2020-12/schema")") !=
          std::string::npos);
    CHECK(s.find(R"("required":["device","window"])") != std::string::npos);
    CHECK(s.find(R"("window":{"title":"Change window","type":"string","format":"date-time")") !=
          std::string::npos);
    CHECK(s.find(R"("enum":["low","medium","high"])") != std::string::npos);
    CHECK(s.find(R"("minimum":1,"maximum":10)") != std::string::npos);
    CHECK(s.find(R"("default":"low")") != std::string::npos);
    CHECK(s.find(R"("format":"email")") != std::string::npos);
    CHECK(s.find(R"("format":"date")") != std::string::npos);
    CHECK(s.find(R"("type":"array","items":{"type":"string","enum":["net","sec"]})") !=
          std::string::npos);
}

TEST_CASE("page: labels, native inputs, escaping, errors beside fields", "[forms]") {
    auto form = sample();
    std::string html = form_page(form, Value::dict(), {});
    CHECK(html.find("<title>Change &lt;request&gt;</title>") != std::string::npos);
    CHECK(html.find("<label for=\"f-device\">Device") != std::string::npos);
    CHECK(html.find("type=\"datetime-local\" id=\"f-window\"") != std::string::npos);
    CHECK(html.find("<select id=\"f-teams\" name=\"teams\" aria-describedby=\"hint-teams\" "
                    "multiple>") != std::string::npos);
    CHECK(html.find("<p class=\"help\" id=\"hint-teams\">Hold Ctrl (&#8984; on a Mac) to choose "
                    "several.</p>") != std::string::npos);
    // The browser checks the pattern before the submit, as a search (Ferry's meaning).
    CHECK(html.find("id=\"f-device\" name=\"device\" required aria-required=\"true\" "
                    "pattern=\"[\\s\\S]*(?:^[a-z0-9-]+$)[\\s\\S]*\"") != std::string::npos);
    CHECK(html.find("type=\"checkbox\"") != std::string::npos);
    CHECK(html.find("<textarea") != std::string::npos);
    CHECK(html.find("type=\"email\"") != std::string::npos);
    CHECK(html.find("type=\"date\"") != std::string::npos);
    CHECK(html.find("How many &quot;hosts&quot;") != std::string::npos);
    CHECK(html.find("<option value=\"low\" selected>") != std::string::npos);
    CHECK(html.find("required aria-required=\"true\"") != std::string::npos);
    CHECK(html.find("<script") == std::string::npos);
    Value sub = tmpl::value_from_json(R"({"device":"<b>x</b>"})");
    std::string err = form_page(form, sub, {{"device", "does not match"}});
    CHECK(err.find("value=\"&lt;b&gt;x&lt;/b&gt;\"") != std::string::npos);
    CHECK(err.find("aria-invalid=\"true\"") != std::string::npos);
    CHECK(err.find("id=\"error-device\">does not match</p>") != std::string::npos);
    CHECK(err.find("<a href=\"#f-device\">Device</a>") != std::string::npos);
}

TEST_CASE("page: a multi-choice tells how many options it takes", "[forms]") {
    auto r = workflow::load_project_config_text(R"(forms:
  pick:
    workflow: pick
    fields:
      - {name: a, type: multi-choice, choices: [x, y, z], required: true}
      - {name: b, type: multi-choice, choices: [x, y, z], min_length: 2}
      - {name: c, type: multi-choice, choices: [x, y, z], max_length: 1}
      - {name: d, type: multi-choice, choices: [x, y, z], min_length: 1, max_length: 2}
      - {name: e, type: multi-choice, choices: [x, y, z], min_length: 2, max_length: 2}
      - {name: f, type: multi-choice, choices: [x, y, z], help: "Teams to notify"}
      - {name: g, type: string, pattern: "a&\"b", help: "Any"}
)",
                                                "ferry.yaml");
    REQUIRE(r.ok());
    std::string html = form_page(r.config.form_specs.at(0), Value::dict(), {});
    for (const char* hint :
         {"choose several. Choose at least 1 option.</p>",
          "choose several. Choose at least 2 options.</p>",
          "choose several. Choose at most 1 option.</p>",
          "choose several. Choose 1 to 2 options.</p>", "choose several. Choose 2 options.</p>"}) {
        CAPTURE(hint);
        CHECK(html.find(hint) != std::string::npos);
    }
    CHECK(html.find("aria-describedby=\"help-f hint-f\"") != std::string::npos);
    CHECK(html.find("pattern=\"[\\s\\S]*(?:a&amp;&quot;b)[\\s\\S]*\" value") != std::string::npos);
    CHECK(html.find("id=\"hint-g\"") == std::string::npos);
}

TEST_CASE("page: a datetime says it is read as UTC, and every page carries its own key",
          "[forms]") {
    auto form = sample();
    std::string page = form_page(form, Value::dict(), {});
    CHECK(page.find("Change window (UTC)") != std::string::npos);
    const std::string hidden = std::string("name=\"") + kSubmissionKeyField + "\" value=\"";
    size_t at = page.find(hidden);
    REQUIRE(at != std::string::npos);
    std::string key = page.substr(at + hidden.size(), 26);
    CHECK(form_page(form, Value::dict(), {}).find(key) == std::string::npos);  // a fresh one
    // Sent back, it is the page's key, not a field.
    UrlencodedSubmission sent = urlencoded_submission(
        form, "device=sw-1&" + std::string(kSubmissionKeyField) + "=" + key + "&window=x");
    CHECK(sent.page_key == key);
    CHECK_FALSE(sent.values.dict_obj().find(kSubmissionKeyField));
}

TEST_CASE("page: a datetime given back is shown in UTC, with or without its seconds", "[forms]") {
    auto form = sample();
    auto shown_window = [&](const std::string& given) {
        std::string html =
            form_page(form, tmpl::value_from_json(R"({"window":")" + given + "\"}"), {});
        const std::string attr =
            "id=\"f-window\" name=\"window\" required aria-required=\"true\" value=\"";
        size_t at = html.find(attr);
        REQUIRE(at != std::string::npos);
        at += attr.size();
        return html.substr(at, html.find('"', at) - at);
    };
    // The submit takes an offset without seconds; the control shows it (it showed nothing).
    CHECK(shown_window("2026-12-08T10:00+02:00") == "2026-12-08T08:00:00");
    CHECK(shown_window("2026-12-08T10:00:00+02:00") == "2026-12-08T08:00:00");
    CHECK(shown_window("2026-12-08T10:00") == "2026-12-08T10:00:00");
    CHECK(shown_window("nonsense") == "nonsense");  // shown as typed, beside its error
}

TEST_CASE("page: ids that cannot collide, every error of a field beside it", "[forms]") {
    auto r = workflow::load_project_config_text(R"(forms:
  f:
    workflow: w
    fields:
      - {name: s, help: "your name"}
      - {name: s-help, label: Collides}
      - {name: t, type: text}
)",
                                                "ferry.yaml");
    REQUIRE(r.ok());
    const auto& form = r.config.form_specs.at(0);
    std::string html =
        form_page(form, Value::dict(), {{"s", "too short"}, {"s", "has a blank"}, {"t", "x"}});
    // A field named "s-help" no longer takes the id of field s's help paragraph.
    CHECK(html.find("id=\"f-s\" name=\"s\" aria-describedby=\"help-s error-s\"") !=
          std::string::npos);
    CHECK(html.find("<label for=\"f-s-help\">Collides</label>\n<input type=\"text\" "
                    "id=\"f-s-help\"") != std::string::npos);
    CHECK(html.find("<p class=\"help\" id=\"help-s\">your name</p>") != std::string::npos);
    CHECK(html.find("<p class=\"error\" id=\"error-s\">too short<br>\nhas a blank</p>") !=
          std::string::npos);
    // No id twice on the page.
    std::vector<std::string> ids;
    for (size_t at = html.find(" id=\""); at != std::string::npos; at = html.find(" id=\"", at + 1))
        ids.push_back(html.substr(at + 5, html.find('"', at + 5) - at - 5));
    std::sort(ids.begin(), ids.end());
    CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end());
    // The summary takes the focus, and the title says the submit failed.
    CHECK(html.find("<div class=\"summary\" role=\"alert\" tabindex=\"-1\" autofocus>") !=
          std::string::npos);
    CHECK(html.find("<title>Error: f</title>") != std::string::npos);
    CHECK(form_page(form, Value::dict(), {}).find("<title>f</title>") != std::string::npos);
}

TEST_CASE("page: the submit waits for the outcome, and takes language, direction, autocomplete",
          "[forms]") {
    auto r = workflow::load_project_config_text(R"(forms:
  plain:
    workflow: w
    fields:
      - {name: note, type: text, required: true}
  local:
    workflow: w
    wait: 1m30s
    lang: ar
    dir: rtl
    fields:
      - {name: who, autocomplete: name}
  nowait:
    workflow: w
    wait: 0s
)",
                                                "ferry.yaml");
    REQUIRE(r.ok());
    std::string plain = form_page(r.config.form_specs.at(0), Value::dict(), {});
    CHECK(plain.find("<html lang=\"en\">") != std::string::npos);
    CHECK(plain.find("action=\"/api/v1/forms/plain/submit?wait=10s\"") != std::string::npos);
    CHECK(plain.find("<p aria-hidden=\"true\">Fields marked * are required.</p>") !=
          std::string::npos);
    // A text that starts with a blank line keeps it: the parser drops the first newline.
    std::string refilled =
        form_page(r.config.form_specs.at(0), dict_of({{"note", str("\nsecond line")}}), {});
    CHECK(refilled.find("required aria-required=\"true\">\n\nsecond line</textarea>") !=
          std::string::npos);
    std::string local = form_page(r.config.form_specs.at(1), Value::dict(), {});
    CHECK(local.find("<html lang=\"ar\" dir=\"rtl\">") != std::string::npos);
    CHECK(local.find("action=\"/api/v1/forms/local/submit?wait=1m30s\"") != std::string::npos);
    CHECK(local.find("id=\"f-who\" name=\"who\" autocomplete=\"name\"") != std::string::npos);
    std::string nowait = form_page(r.config.form_specs.at(2), Value::dict(), {});
    CHECK(nowait.find("action=\"/api/v1/forms/nowait/submit\"") != std::string::npos);
    // The result pages' titles say whether the request went in.
    const auto& form = r.config.form_specs.at(1);
    CHECK(result_page(form, 202, dict_of({{"id", str("01ARZ3NDEKTSV4RRFFQ69G5FAV")}}), false)
              .find("<title>Submitted: local</title>") != std::string::npos);
    CHECK(result_page(form, 409, dict_of({{"error", dict_of({{"message", str("no")}})}}), false)
              .find("<title>Not submitted: local</title>") != std::string::npos);
}

TEST_CASE("submission: a text's line breaks are LF, counted once as the page counts them",
          "[forms]") {
    auto r = workflow::load_project_config_text(R"(forms:
  note:
    title: Note
    workflow: w
    fields:
      - {name: text, type: text, max_length: 40}
)",
                                                "ferry.yaml");
    REQUIRE(r.ok());
    const auto& form = r.config.form_specs.at(0);
    // Nine lines of "abc": 35 characters in the browser's count, 43 as CRLF.
    std::string crlf;
    for (int i = 0; i < 9; ++i)
        crlf += (i ? "\r\n" : "") + std::string("abc");
    FormOutcome out = check_submission(form, dict_of({{"text", str(crlf + "\rz")}}));
    INFO((out.errors.empty() ? "" : out.errors[0].second));
    REQUIRE(out.errors.empty());
    std::string text(out.inputs.dict_obj().find("text")->str());
    CHECK(text.find('\r') == std::string::npos);
    CHECK(text.size() == 37);  // 35, then "\nz"
}

TEST_CASE("result page: what became of the request, in words, and a dry run said", "[forms]") {
    auto form = sample();
    auto page_for = [&](const char* status, bool dry) {
        return result_page(form, 200,
                           dict_of({{"id", str("01ARZ3NDEKTSV4RRFFQ69G5FAV")},
                                    {"status", str(status)},
                                    {"outputs", dict_of({{"change", str("CHG0001 <b>")}})}}),
                           dry);
    };
    CHECK(page_for("succeeded", false).find("submitted and carried out") != std::string::npos);
    CHECK(page_for("waiting", false).find("waits for an approval") != std::string::npos);
    CHECK(page_for("failed", false).find("could not be carried out") != std::string::npos);
    CHECK(page_for("succeeded", false).find("Dry run") == std::string::npos);
    std::string dry = page_for("succeeded", true);
    CHECK(dry.find("<strong>Dry run:</strong>") != std::string::npos);
    CHECK(dry.find("<dt>change</dt><dd>CHG0001 &lt;b&gt;</dd>") != std::string::npos);
}

#include "core/dead_letters.h"

#include "core/values.h"
#include "runtime/http_text.h"
#include "runtime/integration/secrets.h"
#include "template/environment.h"

#include <algorithm>
#include <cctype>

namespace ferry::engine {

namespace {

using tmpl::Value;

std::string text(const Value& v, const char* key) {
    const Value* f = dict_get(v, key);
    return f && !f->is_none() ? tmpl::to_str(*f) : std::string();
}

}  // namespace

namespace {

// Ids are ULIDs; anything else names no entry (and no lock file: it becomes a path).
bool plausible_id(const std::string& id) {
    return !id.empty() && id.size() <= 64 &&
           std::all_of(id.begin(), id.end(), [](unsigned char c) { return std::isalnum(c) != 0; });
}

// then: what to do about it.
std::string replay_in_flight(const std::string& id, const char* where,
                             const char* then = "its answer decides") {
    return "dead letter " + id + " is being replayed now" + where + "; " + then;
}

Error no_dead_letter(const std::string& id) {
    return make_error(ErrorKind::NotFound, "no dead letter '" + id + "'");
}

constexpr const char* kDropLater = "drop it after its answer (a 2xx removes it)";

}  // namespace

void replay_dead_letter(App& app, const std::string& id,
                        std::function<void(Result<ReplayResult>)> done) {
    auto busy = [&](const char* where) {
        ReplayResult r;
        r.busy = true;
        r.error = replay_in_flight(id, where);
        done(r);
    };
    if (app.replaying_dead_letters.count(id)) return busy("");
    if (!plausible_id(id)) {
        done(no_dead_letter(id));
        return;
    }
    // Held from before the entry is read until its outcome is durable: a replay from
    // another process beside it sent it twice (two tickets from one entry), and a failed
    // one wrote back the copy it had read over an entry delivered or dropped meanwhile.
    Result<bool> held = app.engine->hold_dead_letter(id);
    if (!held) {
        done(held.error());
        return;
    }
    if (!held.value()) return busy(" by another ferry process");
    App* a = &app;
    auto fail = [a, &id, &done](Error e) {
        a->engine->release_dead_letter(id);
        done(std::move(e));
    };
    auto found = app.store->get_dlq(id);
    if (!found) return fail(found.error());
    if (!found.value()) return fail(no_dead_letter(id));
    Value entry = tmpl::value_from_json(*found.value());
    const Value* request = dict_get(entry, "request");
    if (!request || !request->is_dict())
        return fail(
            make_error(ErrorKind::Validation, "dead letter " + id + " has no request to replay"));
    std::string name = text(entry, "integration");
    if (name.empty())
        return fail(make_error(ErrorKind::Validation,
                               "dead letter " + id + " names no integration to send it through"));
    IntegrationClient* client = app.integrations.find(name);
    if (!client)
        return fail(make_error(ErrorKind::Validation, "dead letter " + id + " names integration '" +
                                                          name +
                                                          "', which ferry.yaml does not define"));
    if (client->config().dry_run)
        return fail(make_error(ErrorKind::Validation, "integration '" + name +
                                                          "' is in dry_run: a replay would send "
                                                          "nothing"));
    IntegrationRequest req;
    req.http.method = text(*request, "method");
    if (req.http.method.empty()) req.http.method = "POST";
    // A webhook delivery goes to the integration's url as ferry.yaml has it now: a receiver
    // that moved is the usual reason to replay. Any other request keeps its URL, but only
    // on the integration's own origins, where it is sent with credentials and signature
    // as it was; elsewhere it would leave unauthenticated and unsigned.
    const std::string stored_url = text(*request, "url");
    const IntegrationConfig& config = client->config();
    if (text(entry, "kind") == "webhook" && config.type == "webhook") {  // url is required
        req.http.url = config.url;
    } else if (client->owns_url(stored_url) ||
               (stored_url.starts_with('/') && !config.base_url.empty())) {
        // A path (ctx.dead_letter takes what ctx.http takes) is on the base_url, as it was.
        req.http.url = stored_url;
    } else {
        return fail(make_error(
            ErrorKind::Validation,
            "dead letter " + id + " was sent to " + redact(url_without_password(stored_url)) +
                ", which is not on integration '" + name + "' as ferry.yaml defines it now (" +
                (config.base_url.empty() ? "url " + redact(config.url)
                                         : "base_url " + redact(config.base_url)) +
                "): drop it, or point the integration back"));
    }
    const Value* body = dict_get(*request, "body");
    if (body && body->is_string())
        req.http.body = std::string(body->str());
    else if (body && !body->is_none())
        req.http.body = to_json_text(*body);
    // Sent again safely (libcurl's resend on a connection the receiver closed, the retries
    // after a 5xx) only when the receiver can tell it is the same request: a webhook's id,
    // an Idempotency-Key; otherwise as any request of its method (a POST once).
    bool deduplicated = false;
    if (const Value* headers = dict_get(*request, "headers"); headers && headers->is_dict()) {
        for (const auto& [k, v] : headers->dict_obj().items()) {
            std::string key = tmpl::to_str(k);
            std::string lower = ascii_lower(key);
            if (lower == "webhook-id" || lower == "idempotency-key") deduplicated = true;
            // Signatures and credentials are made fresh for this attempt.
            if (lower == "webhook-timestamp" || lower == "webhook-signature" ||
                lower == "authorization" || tmpl::to_str(v) == kRedacted)
                continue;
            req.http.headers.emplace_back(key, tmpl::to_str(v));
        }
    }
    if (deduplicated) req.idempotent = true;
    // An operator replaying is the sign that an endpoint retired by 410 Gone is back.
    client->enable();
    app.replaying_dead_letters.insert(id);
    client->send(std::move(req), [a, id, entry, done](IntegrationOutcome o) mutable {
        a->replaying_dead_letters.erase(id);
        ReplayResult r;
        r.attempts = o.attempts;
        r.refused = !o.response && o.attempts == 0 && o.error.kind == ErrorKind::Validation;
        r.status = o.response ? o.response->status : 0;
        r.delivered = o.response && o.response->status >= 200 && o.response->status < 300;
        if (r.delivered) {
            a->store->erase_dlq(id);
        } else {
            r.error = redact(o.response ? http_status_text(*o.response) : o.error.message);
            entry.dict_obj().set(str("last_replay_error"), str(r.error));
            a->store->put_dlq(id, to_json_text(entry));
        }
        // Released once the outcome is durable. A commit that fails stops the process (the
        // server's stop_on_lost_history, the command's exit), and the lock goes with it.
        a->store->after_commit([a, id] { a->engine->release_dead_letter(id); });
        done(r);
    });
}

std::string shown_dead_letter(const std::string& json) {
    if (json.find('@') == std::string::npos) return json;  // no user info anywhere
    Value entry = tmpl::value_from_json(json);
    const Value* request = dict_get(entry, "request");
    const Value* url = request ? dict_get(*request, "url") : nullptr;
    if (!url || !url->is_string()) return json;
    std::string shown = url_without_password(url->str());
    if (shown == url->str()) return json;
    request->dict_obj().set(str("url"), str(shown));
    return to_json_text(entry);
}

Result<DropResult> drop_dead_letter(App& app, const std::string& id) {
    if (app.replaying_dead_letters.count(id))
        return DropResult{false, replay_in_flight(id, "", kDropLater)};
    if (!plausible_id(id)) return no_dead_letter(id);
    auto found = app.store->get_dlq(id);
    if (!found) return found.error();
    if (!found.value()) return no_dead_letter(id);
    Result<bool> held = app.engine->hold_dead_letter(id);
    if (!held) return held.error();
    if (!held.value())
        return DropResult{false, replay_in_flight(id, " by another ferry process", kDropLater)};
    app.store->erase_dlq(id);
    App* a = &app;
    a->store->after_commit([a, id] { a->engine->release_dead_letter(id); });
    return DropResult{true, ""};
}

}  // namespace ferry::engine

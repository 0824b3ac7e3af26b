// The integration's credentials: auth headers (basic, bearer, api_key, OAuth2 client
// credentials with a cached token), Standard Webhooks signatures, and the secrets they
// teach the Redactor.
#include "runtime/integration/client.h"

#include "runtime/crypto.h"
#include "runtime/http_text.h"
#include "runtime/integration/secrets.h"
#include "runtime/timestamp.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>

namespace ferry {

// Some servers send expires_in as a string. Capped at a year: 1e17 seconds overflowed and
// made every request fetch a new token.
uint64_t oauth_token_lifetime_ms(const rapidjson::Value& doc) {
    constexpr double kYear = 365.0 * 24 * 3600;
    double seconds = 3600;
    if (doc.HasMember("expires_in")) {
        const rapidjson::Value& v = doc["expires_in"];
        if (v.IsNumber()) {
            seconds = v.GetDouble();
        } else if (v.IsString()) {
            // A decimal number, blanks around it allowed ("2.5", " 2"); anything else keeps
            // the hour.
            std::string_view text(v.GetString(), v.GetStringLength());
            while (!text.empty() && text.front() == ' ')
                text.remove_prefix(1);
            while (!text.empty() && text.back() == ' ')
                text.remove_suffix(1);
            // Digits and at most one point: from_chars reads "inf" and "nan" too.
            const bool decimal =
                !text.empty() && text.size() <= 20 &&
                std::all_of(text.begin(), text.end(),
                            [](char c) {
                                return std::isdigit(static_cast<unsigned char>(c)) || c == '.';
                            }) &&
                std::count(text.begin(), text.end(), '.') <= 1;
            double parsed = 0;
            auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
            if (decimal && ec == std::errc() && end == text.data() + text.size()) seconds = parsed;
        }
    }
    if (std::isnan(seconds)) return 3600'000;
    if (!(seconds > 0)) return 0;  // expired already, as the server says
    return uint64_t(std::min(seconds, kYear) * 1000);
}

namespace {

// The base64 text of a Standard Webhooks secret's key: after "whsec_", which is optional.
std::string_view webhook_key_text(std::string_view secret) {
    return secret.starts_with("whsec_") ? secret.substr(6) : secret;
}

}  // namespace

std::optional<std::string> standard_webhooks_signature(std::string_view secret, std::string_view id,
                                                       std::string_view timestamp,
                                                       std::string_view body) {
    std::optional<std::string> key = crypto::base64_decode(webhook_key_text(secret));
    if (!key || key->empty()) return std::nullopt;
    std::string text;
    text.reserve(id.size() + timestamp.size() + body.size() + 2);
    text.append(id).append(".").append(timestamp).append(".").append(body);
    return "v1," + crypto::base64_encode(crypto::hmac_sha256(*key, text));
}

void learn_webhook_key(std::string_view secret) {
    const std::string_view text = webhook_key_text(secret);
    if (text.size() != secret.size()) Redactor::instance().add(std::string(text));
    if (std::optional<std::string> key = crypto::base64_decode(text))
        Redactor::instance().add(std::move(*key));
}

// A dry run sends no credential, but the task and the records may still meet one (an
// input that carries a token, a response of another step): the secrets that resolve are
// taught to the Redactor as a live request would, so a dry run redacts what a live run
// does. One that does not resolve (no credentials where dry runs are the point) is no
// error here.
void IntegrationClient::learn_secrets_for_redaction() {
    const IntegrationAuth& a = config_.auth;
    std::optional<std::string> user, password, client_secret;
    for (const std::string* ref :
         {&a.username, &a.password, &a.token, &a.value, &a.client_secret}) {
        if (!is_secret_reference(*ref)) continue;
        Result<std::string> v = resolve_secret(*ref);  // adds it to the Redactor
        if (!v) continue;
        if (ref == &a.username) user = v.value();
        if (ref == &a.password) password = v.value();
        if (ref == &a.client_secret) client_secret = v.value();
    }
    if (!is_secret_reference(a.client_secret) && !a.client_secret.empty())
        client_secret = a.client_secret;  // a literal: fetch_token redacts its encoding too
    // What a live request derives from them, as apply_auth and fetch_token add it.
    if (a.type == "basic" && password)
        Redactor::instance().add(
            crypto::base64_encode(user.value_or(a.username) + ":" + *password));
    if (a.type == "oauth2" && client_secret) Redactor::instance().add(url_encode(*client_secret));
    for (const std::string& ref : config_.webhook_secrets)
        if (is_secret_reference(ref))
            if (Result<std::string> v = resolve_secret(ref)) learn_webhook_key(v.value());
}

Status IntegrationClient::apply_auth(HttpRequest& out, bool for_preview) {
    const IntegrationAuth& a = config_.auth;
    auto secret = [&](const std::string& ref, const char* field) -> Result<std::string> {
        Result<std::string> v = resolve_secret(ref);
        if (!v) {
            return make_error(v.error().kind, "integration '" + config_.name + "': auth." + field +
                                                  ": " + v.error().message);
        }
        // Every auth value goes into a header. A trailing newline (echo > file, a variable
        // set from a heredoc) is the usual cause; name the reference, never the value.
        if (v.value().find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
            return make_error(ErrorKind::Validation,
                              "integration '" + config_.name + "': auth." + field + ": " +
                                  (is_secret_reference(ref) ? ref : std::string("the value")) +
                                  " contains a line break or NUL, which an HTTP header cannot "
                                  "carry (a trailing newline?)");
        }
        return v;
    };
    if (a.type == "none" || a.type.empty()) return ok_status();
    if (for_preview) {
        std::string header = a.type == "api_key" ? a.header : "Authorization";
        set_header(out.headers, header, std::string(kRedacted));
        learn_secrets_for_redaction();
        return ok_status();
    }
    if (a.type == "basic") {
        Result<std::string> user = secret(a.username, "username");  // a literal, or kept elsewhere
        if (!user) return user.error();
        Result<std::string> pw = secret(a.password, "password");
        if (!pw) return pw.error();
        std::string encoded = crypto::base64_encode(user.value() + ":" + pw.value());
        Redactor::instance().add(encoded);
        set_header(out.headers, "Authorization", "Basic " + encoded);
    } else if (a.type == "bearer" || a.type == "splunk") {
        Result<std::string> tok = secret(a.token, "token");
        if (!tok) return tok.error();
        set_header(out.headers, "Authorization",
                   (a.type == "bearer" ? "Bearer " : "Splunk ") + tok.value());
    } else if (a.type == "api_key") {
        Result<std::string> v = secret(a.value, "value");
        if (!v) return v.error();
        set_header(out.headers, a.header, v.value());
    } else if (a.type == "oauth2") {
        set_header(out.headers, "Authorization", "Bearer " + access_token_);
    }
    return ok_status();
}

Status IntegrationClient::sign_webhook(HttpRequest& out, bool for_preview) {
    std::string id = header_value(out.headers, "webhook-id");
    if (config_.webhook_secrets.empty() || id.empty()) return ok_status();
    if (id.find('.') != std::string::npos) {
        return make_error(ErrorKind::Validation, "webhook-id '" + id + "' must not contain '.'");
    }
    std::string ts = std::to_string(now_unix_ms() / 1000);
    std::string signatures;
    for (const std::string& ref : config_.webhook_secrets) {
        Result<std::string> secret = resolve_secret(ref);
        if (!secret) {
            if (for_preview) continue;  // the others may still be malformed
            return make_error(secret.error().kind, "integration '" + config_.name +
                                                       "': secret: " + secret.error().message);
        }
        std::optional<std::string> signature =
            standard_webhooks_signature(secret.value(), id, ts, out.body);
        if (!signature) {
            return make_error(ErrorKind::Validation,
                              "integration '" + config_.name +
                                  "': a webhook secret must be whsec_ followed by base64");
        }
        if (!signatures.empty()) signatures += ' ';
        signatures += *signature;
    }
    // A preview is kept in history: a valid signature there could be replayed to the
    // receiver (within its tolerance) as an event that was never sent. The secrets were
    // still checked above, so a preview reports a malformed one. One placeholder a secret,
    // as the send has one signature a secret.
    if (for_preview) {
        signatures.clear();
        for (size_t i = 0; i < config_.webhook_secrets.size(); ++i)
            signatures += (i ? " " : "") + std::string("v1,[computed when sent]");
    }
    set_header(out.headers, "webhook-timestamp", ts);
    set_header(out.headers, "webhook-signature", signatures);
    return ok_status();
}

void IntegrationClient::fetch_token(TokenWaiter then) {
    token_waiters_.push_back(std::move(then));
    if (token_fetching_) return;
    token_fetching_ = true;
    const IntegrationAuth& a = config_.auth;
    auto fail_all = [this](Error e, TokenFailure failure = {}) {
        token_fetching_ = false;
        auto waiters = std::move(token_waiters_);
        token_waiters_.clear();
        for (auto& w : waiters)
            w(e, failure);
    };
    // The token endpoint itself failed: one failure of the service, however many requests
    // waited for the fetch (each counting it opened the breaker on a single 503).
    auto endpoint_failed = [this, fail_all](Error e, TokenFailure failure) {
        breaker_.on_failure(loop_.now_ms());
        fail_all(std::move(e), failure);
    };
    Result<std::string> client_secret = resolve_secret(a.client_secret);
    if (!client_secret) {
        fail_all(make_error(client_secret.error().kind,
                            "integration '" + config_.name +
                                "': auth.client_secret: " + client_secret.error().message));
        return;
    }
    Result<std::string> client_id = resolve_secret(a.client_id);  // a literal, or kept elsewhere
    if (!client_id) {
        fail_all(make_error(client_id.error().kind,
                            "integration '" + config_.name +
                                "': auth.client_id: " + client_id.error().message));
        return;
    }
    HttpRequest req;
    req.method = "POST";
    req.url = is_http_url(a.token_url) ? a.token_url : join_url(config_.base_url, a.token_url);
    req.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                   {"Accept", "application/json"}};
    req.body = "grant_type=client_credentials&client_id=" + url_encode(client_id.value()) +
               "&client_secret=" + url_encode(client_secret.value());
    Redactor::instance().add(url_encode(client_secret.value()));
    if (!a.scope.empty()) req.body += "&scope=" + url_encode(a.scope);
    req.timeout_ms = config_.timeout_ms;
    req.verify_tls = config_.tls.verify;
    req.ca_file = config_.tls.ca_file;
    req.client_cert = config_.tls.client_cert;
    req.client_key = config_.tls.client_key;
    std::string where = req.url;
    token_transfer_ = http_.send(std::move(req), [this, alive = alive_, endpoint_failed,
                                                  where](Result<HttpResponse> res,
                                                         const HttpTransferInfo&) {
        if (!*alive) return;
        token_transfer_ = 0;
        if (!res) {
            if (res.error().kind == ErrorKind::Cancelled) return;
            TokenFailure failure;
            failure.transient =
                res.error().kind == ErrorKind::Network || res.error().kind == ErrorKind::Timeout;
            endpoint_failed(
                make_error(res.error().kind, "integration '" + config_.name +
                                                 "': OAuth2 token request to " + where +
                                                 " failed: " + redact(res.error().message)),
                failure);
            return;
        }
        const HttpResponse& r = res.value();
        rapidjson::Document doc;
        doc.Parse(r.body.data(), r.body.size());
        bool json_ok = !doc.HasParseError() && doc.IsObject();
        // An empty token would go out as a bare "Bearer", a 401 and a fetch per request.
        bool has_token = json_ok && doc.HasMember("access_token") &&
                         doc["access_token"].IsString() &&
                         doc["access_token"].GetStringLength() > 0;
        // RFC 6749 7.1: a client must not use a token whose type it does not understand; a
        // DPoP or MAC token sent as Bearer is refused with a 401 by the API, every time.
        std::string token_type;
        if (json_ok && doc.HasMember("token_type") && doc["token_type"].IsString())
            token_type.assign(doc["token_type"].GetString(), doc["token_type"].GetStringLength());
        const bool bearer = token_type.empty() || iequals(token_type, "bearer");
        if (r.status != 200 || !has_token || !bearer) {
            std::string why = "HTTP " + std::to_string(r.status);
            if (r.status == 200 && !json_ok)
                why += ": the answer is not a JSON object (a login page or a proxy?)";
            else if (r.status == 200 && !has_token)
                why += doc.HasMember("access_token") && doc["access_token"].IsString()
                           ? ": the answer's access_token is empty"
                           : ": the answer has no access_token";
            else if (r.status == 200)
                why += ": token_type '" + token_type +
                       "' is not Bearer (Ferry sends bearer tokens only)";
            if (json_ok) {
                for (const char* field : {"error", "error_description"}) {
                    if (doc.HasMember(field) && doc[field].IsString())
                        why += std::string(" ") + field + "=" + doc[field].GetString();
                }
            }
            TokenFailure failure;
            failure.transient = r.status >= 500 || r.status == 429;
            failure.retry_after_ms = parse_retry_after_ms(r.header("retry-after"), now_unix_ms());
            endpoint_failed(make_error(r.status >= 500 ? ErrorKind::Http5xx : ErrorKind::Http4xx,
                                       "integration '" + config_.name +
                                           "': OAuth2 token request to " + where +
                                           " failed: " + redact(why)),
                            failure);
            return;
        }
        std::string fetched(doc["access_token"].GetString(), doc["access_token"].GetStringLength());
        if (fetched != access_token_) {
            // Tokens stay redacted while an execution may still hold one in a value (an
            // answer echoing it, recorded later): the last kKeptTokens of them. Older ones are
            // retired, or a token rotating every few minutes would add a secret to search for
            // to every text, for as long as the server runs.
            Redactor::instance().add(fetched);
            held_tokens_.push_back(fetched);
            if (held_tokens_.size() > kKeptTokens) {
                Redactor::instance().remove(held_tokens_.front());
                held_tokens_.pop_front();
            }
            access_token_ = std::move(fetched);
        }
        ++token_fetches_;  // the same text as before is still a new fetch
        uint64_t lifetime_ms = oauth_token_lifetime_ms(doc);
        // Refresh shortly before expiry: a minute early, or a tenth of a short lifetime.
        uint64_t margin = std::min<uint64_t>(60'000, lifetime_ms / 10);
        token_expires_ms_ = loop_.now_ms() + lifetime_ms - margin;
        token_fetching_ = false;
        auto waiters = std::move(token_waiters_);
        token_waiters_.clear();
        for (auto& w : waiters)
            w(ok_status(), TokenFailure{});
    });
}

}  // namespace ferry

// integrations: in ferry.yaml: each entry's type, base URL, auth, TLS, retry, rate limit,
// circuit breaker and the settings its type's tasks read.
#include "workflow/project_config.h"

#include "runtime/http_client.h"
#include "runtime/http_text.h"
#include "workflow/config_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <regex>
#include <set>

namespace ferry::workflow {

namespace {

using detail::ConfigReader;
using detail::contains;
using detail::Context;
using detail::join;

const std::vector<std::string> kTypes = {"servicenow", "jira", "splunk_hec", "webhook", "http"};
const std::vector<std::string> kAuthTypes = {"none",    "basic",  "bearer",
                                             "api_key", "splunk", "oauth2"};
const std::vector<std::string> kCommonKeys = {
    "type",    "description", "base_url",        "url",     "auth",     "tls",      "timeout",
    "retry",   "rate_limit",  "circuit_breaker", "dry_run", "defaults", "mappings", "secret",
    "secrets", "settings"};
// Settings a type's tasks read (ctx.integration.*); anything else goes under `settings:`.
const std::map<std::string, std::vector<std::string>> kTypeKeys = {
    {"servicenow", {"table", "api_version"}},
    {"jira", {"project_key", "issue_type"}},
    {"splunk_hec", {"index", "source", "sourcetype", "host", "channel"}},
    {"webhook", {}},
    {"http", {}},
};

// Whether the URL's authority has "user[:password]@".
// What sits between "://" and the path, query or fragment (user:password@host:port).
std::string_view url_authority(std::string_view url) {
    size_t start = url.find("://");
    if (start == std::string_view::npos) return {};
    start += 3;
    size_t end = url.find_first_of("/?#", start);
    return url.substr(start, end == std::string_view::npos ? url.npos : end - start);
}

bool url_has_userinfo(std::string_view url) {
    return url_authority(url).find('@') != std::string_view::npos;
}

// Without a host the first request fails with libcurl's words, long after validate said
// the project was fine.
bool url_has_host(std::string_view url) {
    std::string_view authority = url_authority(url);
    return !authority.empty() && authority.front() != ':';
}

// The api_key header: a valid name, and not one the HTTP layer itself owns (a key in Host
// would be seen by every proxy and access log on the way).
std::string api_key_header(ConfigReader& r, const YAML::Node& v, const std::string& field) {
    std::string name = r.string(v, field);
    static const std::set<std::string> kReserved = {
        "host", "content-length", "content-type", "transfer-encoding", "connection", "expect",
        "te",   "upgrade",        "trailer"};
    std::string lower = ascii_lower(name);
    if (!is_http_token(name))
        r.ctx().error(v, field +
                             " must be an HTTP header name (letters, digits and !#$%&'*+-.^_`|~), "
                             "got '" +
                             name + "'");
    else if (kReserved.count(lower))
        r.ctx().error(v, field + ": '" + name + "' is not a header an API key can go in");
    return name;
}

// A PEM file libcurl reads at each TLS request: missing, unreadable or not PEM, it failed
// every request as a `network` error, after validate had said the project was fine. Only
// the first 64 KB are looked at (a key file is a secret: nothing of it is quoted).
std::string pem_file_problem(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return "cannot read '" + path + "': " + std::strerror(errno);
    struct stat st {};
    std::string problem;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        problem = "'" + path + "' is not a regular file";
    } else {
        std::string head(64 * 1024, '\0');
        ssize_t n = ::read(fd, head.data(), head.size());
        if (n < 0)
            problem = "cannot read '" + path + "': " + std::strerror(errno);
        else if (head.substr(0, size_t(n)).find("-----BEGIN ") == std::string::npos)
            problem = "'" + path + "' is not a PEM file (no -----BEGIN line)";
    }
    ::close(fd);
    return problem;
}

// Whether libcurl will send to url as written; a problem at v when not, in its words.
bool sendable_url(ConfigReader& r, const YAML::Node& v, const std::string& field,
                  const std::string& url) {
    const std::string problem = url_syntax_problem(url);
    if (!problem.empty())
        r.ctx().error(v, field + " is not a URL libcurl can send to (" + problem + "), got '" +
                             url + "'");
    return problem.empty();
}

// Where the client secret is posted: an http(s) URL, or a path on the base URL. Anything
// else ("ftp://...", "token") was joined to the base URL as a path, and the secret went
// there.
std::string token_url(ConfigReader& r, const YAML::Node& v, const std::string& field) {
    std::string url = r.string(v, field);
    if (url_has_space_or_control(url))
        r.ctx().error(v, field + " contains a space or a control character (percent-encode "
                                 "it: %20)");
    else if (!url.empty() && !is_http_url(url) && url.front() != '/')
        r.ctx().error(v, field +
                             " must be an http:// or https:// URL or a path starting with /, "
                             "got '" +
                             url + "'");
    else if (is_http_url(url) && url_has_userinfo(url))
        // It would go out in errors and records with the token request's URL; and the
        // client's own credentials are client_id and client_secret.
        r.ctx().error(v, field + " must not carry credentials (user:password@host): use "
                                 "client_id and client_secret with a ${env:NAME} or "
                                 "${file:PATH} reference");
    else if (is_http_url(url) && !url_has_host(url))
        r.ctx().error(v, field + " has no host, got '" + url + "'");
    else if (is_http_url(url))
        sendable_url(r, v, field, url);
    return url;
}

void read_auth(ConfigReader& r, const YAML::Node& node, const std::string& where,
               IntegrationAuth& auth) {
    if (!r.mapping(node, where + ".auth")) return;
    const YAML::Node type = node["type"];
    if (!type) {
        r.ctx().error(node, where + ".auth: 'type' is required (one of " + join(kAuthTypes) + ")");
        return;
    }
    auth.type = r.string(type, "auth.type");
    if (!contains(kAuthTypes, auth.type)) {
        r.ctx().error(type, "unknown auth type '" + auth.type + "' (one of " + join(kAuthTypes) +
                                ")" + detail::did_you_mean(auth.type, kAuthTypes));
        return;
    }
    static const std::map<std::string, std::vector<std::string>> keys = {
        {"none", {"type"}},
        {"basic", {"type", "username", "password"}},
        {"bearer", {"type", "token"}},
        {"api_key", {"type", "header", "value"}},
        {"splunk", {"type", "token"}},
        {"oauth2", {"type", "token_url", "client_id", "client_secret", "scope"}},
    };
    const std::vector<std::string>& known = keys.at(auth.type);
    r.fields(node, where + ".auth (type " + auth.type + ")", known,
             [&](const std::string& key, const YAML::Node& v) {
                 std::string field = "auth." + key;
                 if (key == "username")
                     auth.username = r.text_or_secret(v, field);
                 else if (key == "password")
                     auth.password = r.secret(v, field);
                 else if (key == "token")
                     auth.token = r.secret(v, field);
                 else if (key == "header")
                     auth.header = api_key_header(r, v, field);
                 else if (key == "value")
                     auth.value = r.secret(v, field);
                 else if (key == "token_url")
                     auth.token_url = token_url(r, v, field);
                 else if (key == "client_id")
                     auth.client_id = r.text_or_secret(v, field);
                 else if (key == "client_secret")
                     auth.client_secret = r.secret(v, field);
                 else if (key == "scope")
                     auth.scope = r.string(v, field);
             });
    for (const std::string& key : known) {
        if (key == "type" || key == "header" || key == "scope") continue;
        if (!node[key]) {
            r.ctx().error(node, where + ".auth: '" + key + "' is required for type " + auth.type);
        }
    }
}

}  // namespace

namespace detail {

IntegrationEntry read_integration(ConfigReader& r, const std::string& name,
                                  const YAML::Node& node) {
    IntegrationEntry e;
    e.mark = r.ctx().mark(node);
    IntegrationConfig& c = e.config;
    c.name = name;
    e.settings = tmpl::Value::dict();
    auto& settings = e.settings.dict_obj();
    settings.set(tmpl::Value::string("name"), tmpl::Value::string(name));
    std::string where = "integration '" + name + "'";
    if (!r.mapping(node, where)) return e;
    const YAML::Node type = node["type"];
    if (!type) {
        r.ctx().error(node, where + ": 'type' is required (one of " + join(kTypes) + ")");
    } else {
        c.type = r.string(type, "type");
        if (!contains(kTypes, c.type)) {
            r.ctx().error(type, "unknown integration type '" + c.type + "' (one of " +
                                    join(kTypes) + ")" + detail::did_you_mean(c.type, kTypes));
            c.type.clear();
        }
    }
    std::vector<std::string> known = kCommonKeys;
    if (auto it = kTypeKeys.find(c.type); it != kTypeKeys.end())
        known.insert(known.end(), it->second.begin(), it->second.end());
    r.fields(node, where, known, [&](const std::string& key, const YAML::Node& v) {
        auto public_value = [&] {
            settings.set(tmpl::Value::string(key), detail::to_value(r.ctx(), v));
        };
        if (key == "type" || key == "description") {
            public_value();
        } else if (key == "base_url" || key == "url") {
            std::string url = r.nonempty(v, key);
            if (!url.empty() && !is_http_url(url)) {
                r.ctx().error(v, key + " must start with http:// or https://, got '" + url + "'");
            } else if (url_has_space_or_control(url)) {
                r.ctx().error(v, key + " contains a space or a control character (percent-"
                                       "encode it: %20)");
                url.clear();
            } else if (url_has_userinfo(url)) {
                // It would be sent, logged, stored and shown with every request's URL.
                r.ctx().error(v, key + " must not carry credentials (user:password@host): "
                                       "use auth: with a ${env:NAME} or ${file:PATH} reference");
                url.clear();
            } else if (!url_has_host(url)) {
                r.ctx().error(v, key + " has no host, got '" + url + "'");
                url.clear();
            } else if (!sendable_url(r, v, key, url)) {
                url.clear();
            } else if (url_authority(url).find('%') != std::string_view::npos) {
                r.ctx().error(v, key + " has a host that is no name or address, got '" + url + "'");
                url.clear();
            } else if (url.find('#') != std::string::npos ||
                       (key == "base_url" && url.find('?') != std::string::npos)) {
                // A fragment is never sent; a request's path is appended to a base_url, which
                // after a query or a fragment lands inside it.
                r.ctx().error(v, key +
                                     (key == "base_url" ? " ends at its path: no query or "
                                                          "fragment (?, #)"
                                                        : " has a fragment (#), which is "
                                                          "never sent") +
                                     ", got '" + url + "'");
                url.clear();
            }
            (key == "url" ? c.url : c.base_url) = url;
            public_value();
        } else if (key == "auth") {
            read_auth(r, v, where, c.auth);
        } else if (key == "tls") {
            if (!r.mapping(v, "tls")) return;
            r.fields(v, where + ".tls", {"verify", "ca_file", "client_cert", "client_key"},
                     [&](const std::string& k, const YAML::Node& t) {
                         if (k == "verify")
                             c.tls.verify = r.boolean(t, "tls.verify");
                         else {
                             std::string& path = k == "ca_file"       ? c.tls.ca_file
                                                 : k == "client_cert" ? c.tls.client_cert
                                                                      : c.tls.client_key;
                             path = r.string(t, "tls." + k);
                             if (path.empty()) return;
                             if (std::string problem = pem_file_problem(path); !problem.empty())
                                 e.file_problems.push_back(
                                     Diagnostic{r.ctx().mark(t), "tls." + k + ": " + problem});
                         }
                     });
            if (c.tls.client_cert.empty() != c.tls.client_key.empty())
                r.ctx().error(v, "tls: client_cert and client_key go together (mutual TLS)");
        } else if (key == "timeout") {
            std::optional<uint64_t> ms = r.duration(v, "timeout");
            if (ms && *ms == 0)  // libcurl reads 0 as "no timeout"
                r.ctx().error(v, "timeout must be longer than 0 (it bounds each request)");
            else if (ms)
                c.timeout_ms = *ms;
        } else if (key == "retry") {
            if (!r.mapping(v, "retry")) return;
            r.fields(v, where + ".retry",
                     {"max_attempts", "initial_delay", "max_delay", "max_retry_after"},
                     [&](const std::string& k, const YAML::Node& t) {
                         if (k == "max_attempts")
                             c.retry.max_attempts =
                                 int(r.integer(t, "retry.max_attempts", 3, 1, 100));
                         else if (k == "initial_delay")
                             c.retry.initial_delay_ms = r.duration(t, "retry." + k, 1000);
                         else if (k == "max_delay")
                             c.retry.max_delay_ms = r.duration(t, "retry." + k, 30000);
                         else
                             c.retry.max_retry_after_ms = r.duration(t, "retry." + k, 120000);
                     });
        } else if (key == "rate_limit") {
            r.rate_limit(v, where, c.rate_per_second, c.rate_burst);
        } else if (key == "circuit_breaker") {
            if (!r.mapping(v, "circuit_breaker")) return;
            r.fields(v, where + ".circuit_breaker", {"failures", "reset_after"},
                     [&](const std::string& k, const YAML::Node& t) {
                         if (k == "failures")
                             c.breaker_failures =
                                 int(r.integer(t, "circuit_breaker.failures", 5, 0, 1000000));
                         else
                             c.breaker_reset_ms =
                                 r.duration(t, "circuit_breaker.reset_after", 30000);
                     });
        } else if (key == "dry_run") {
            c.dry_run = r.boolean(v, "dry_run");
            public_value();
        } else if (key == "secret") {
            c.webhook_secrets.push_back(r.secret(v, "secret"));
        } else if (key == "secrets") {
            if (!v.IsSequence()) {
                r.ctx().error(v, "secrets must be a list of secret references");
                return;
            }
            for (const YAML::Node& s : v)
                c.webhook_secrets.push_back(r.secret(s, "secrets[]"));
        } else if (key == "defaults" || key == "mappings" || key == "settings") {
            if (!r.mapping(v, key)) return;
            public_value();
        } else if (key == "channel") {
            // HEC's indexer acknowledgment: the data channel, a GUID, sent with every request
            // (the batches and the poll for their acknowledgments).
            static const std::regex kGuid(
                "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");
            std::string channel = r.string(v, key);
            if (!std::regex_match(channel, kGuid))
                r.ctx().error(v, "channel must be a GUID (HEC's data channel for indexer "
                                 "acknowledgment, 8-4-4-4-12 hex digits), got '" +
                                     channel + "'");
            else {
                c.headers.emplace_back("X-Splunk-Request-Channel", channel);
                public_value();
            }
        } else {
            public_value();  // a type-specific setting (project_key, index...)
        }
    });
    // Given but refused (credentials in it, say) is reported above, not as missing.
    if (c.type == "webhook" && c.url.empty() && !node["url"])
        r.ctx().error(node, where + ": a webhook integration needs 'url'");
    if (!c.type.empty() && c.type != "webhook" && c.base_url.empty() && !node["base_url"])
        r.ctx().error(node, where + ": 'base_url' is required for type " + c.type);
    if (c.type == "splunk_hec" && c.auth.type != "splunk" && c.auth.type != "none" &&
        c.auth.type != "basic")
        r.ctx().error(node, where + ": Splunk HEC authenticates with auth type splunk");
    settings.set(tmpl::Value::string("dry_run"), tmpl::Value::boolean(c.dry_run));
    // Tasks that repeat a create after an ambiguous failure bound themselves by it.
    tmpl::Value retry = tmpl::Value::dict();
    retry.dict_obj().set(tmpl::Value::string("max_attempts"),
                         tmpl::Value::integer(c.retry.max_attempts));
    // ... and how long a vendor's Retry-After may hold them back.
    retry.dict_obj().set(tmpl::Value::string("max_retry_after_ms"),
                         tmpl::Value::integer(int64_t(c.retry.max_retry_after_ms)));
    settings.set(tmpl::Value::string("retry"), retry);
    // How long a request of this integration may take: what a task resumed after a crash
    // waits out before it concludes that a create the stopped process sent never landed.
    settings.set(tmpl::Value::string("timeout_ms"), tmpl::Value::integer(int64_t(c.timeout_ms)));
    return e;
}

}  // namespace detail

const std::vector<std::string>& integration_types() {
    return kTypes;
}

}  // namespace ferry::workflow

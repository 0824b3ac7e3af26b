#include "workflow/project_config.h"

#include "runtime/duration.h"
#include "runtime/http_text.h"
#include "runtime/integration/secrets.h"
#include "workflow/config_reader.h"

#include <arpa/inet.h>
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
#include <strings.h>

namespace ferry::workflow {

namespace {

using detail::ConfigReader;
using detail::contains;
using detail::Context;
using detail::for_each_entry;
using detail::join;

const std::vector<std::string> kTopKeys = {"server", "store",     "auth",  "integrations",
                                           "forms",  "schedules", "hooks", "events"};
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

// Where the client secret is posted: an http(s) URL, or a path on the base URL. Anything
// else ("ftp://...", "token") was joined to the base URL as a path, and the secret went
// there.
std::string token_url(ConfigReader& r, const YAML::Node& v, const std::string& field) {
    std::string url = r.string(v, field);
    if (!url.empty() && !is_http_url(url) && url.front() != '/')
        r.ctx().error(v, field +
                             " must be an http:// or https:// URL or a path starting with /, "
                             "got '" +
                             url + "'");
    else if (is_http_url(url) && !url_has_host(url))
        r.ctx().error(v, field + " has no host, got '" + url + "'");
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
            } else if (url_has_userinfo(url)) {
                // It would be sent, logged, stored and shown with every request's URL.
                r.ctx().error(v, key + " must not carry credentials (user:password@host): "
                                       "use auth: with a ${env:NAME} or ${file:PATH} reference");
                url.clear();
            } else if (!url_has_host(url)) {
                r.ctx().error(v, key + " has no host, got '" + url + "'");
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
            if (!r.mapping(v, "rate_limit")) return;
            r.fields(v, where + ".rate_limit", {"per_second", "burst"},
                     [&](const std::string& k, const YAML::Node& t) {
                         double d = r.number(t, "rate_limit." + k, 0, k == "burst" ? 1 : 0.001);
                         (k == "per_second" ? c.rate_per_second : c.rate_burst) = d;
                     });
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
            // HEC's indexer acknowledgment: the data channel, a GUID, sent with every batch.
            static const std::regex kGuid(
                "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");
            std::string channel = r.string(v, key);
            if (!std::regex_match(channel, kGuid))
                r.ctx().error(v, "channel must be a GUID (HEC's data channel for indexer "
                                 "acknowledgment, 8-4-4-4-12 hex digits), got '" +
                                     channel + "'");
            else
                public_value();
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

std::vector<std::string> string_list(ConfigReader& r, const YAML::Node& v,
                                     const std::string& field) {
    std::vector<std::string> out;
    if (!v.IsSequence()) {
        r.ctx().error(v, field + " must be a list of strings, got " +
                             detail::describe_node(r.ctx(), v));
        return out;
    }
    for (const YAML::Node& item : v)
        out.push_back(r.string(item, field + "[]"));
    return out;
}

void read_events(ConfigReader& r, const YAML::Node& v, ProjectConfig& c) {
    if (!v.IsSequence()) {
        r.ctx().error(v, "events must be a list of subscriptions, got " +
                             detail::describe_node(r.ctx(), v));
        return;
    }
    for (const YAML::Node& item : v) {
        if (!r.mapping(item, "an events entry")) continue;
        EventSubscription sub;
        sub.mark = r.ctx().mark(item);
        r.fields(item, "events", {"integration", "types", "workflows"},
                 [&](const std::string& key, const YAML::Node& f) {
                     if (key == "integration") {
                         sub.integration = r.string(f, "integration");
                         sub.mark = r.ctx().mark(f);
                     } else if (key == "types") {
                         sub.types = string_list(r, f, "types");
                         for (const std::string& t : sub.types) {
                             if (!contains(engine_event_types(), t))
                                 r.ctx().error(f,
                                               "unknown event type '" + t + "'" +
                                                   detail::did_you_mean(t, engine_event_types()) +
                                                   "; types: " + join(engine_event_types()));
                         }
                     } else {
                         sub.workflows = string_list(r, f, "workflows");
                     }
                 });
        if (sub.integration.empty()) {
            r.ctx().error(item, "an events entry needs 'integration' (a webhook integration)");
            continue;
        }
        c.events.push_back(std::move(sub));
    }
}

void read_schedules(ConfigReader& r, const YAML::Node& v, ProjectConfig& c) {
    for (const YAML::Node& item : v) {
        if (!r.mapping(item, "a schedules entry")) continue;
        ScheduleEntry e;
        e.mark = r.ctx().mark(item);
        r.fields(item, "schedules",
                 {"name", "workflow", "every", "cron", "inputs", "catch_up", "enabled", "overlap"},
                 [&](const std::string& key, const YAML::Node& f) {
                     if (key == "name") {
                         e.name = r.string(f, "name");
                         if (!e.name.empty() && !detail::is_identifier(e.name))
                             r.ctx().error(f, detail::identifier_problem("schedule name", e.name));
                     } else if (key == "workflow") {
                         e.workflow = r.nonempty(f, "workflow");
                     } else if (key == "every") {
                         std::optional<uint64_t> ms = r.duration(f, "every");
                         if (f.IsScalar()) e.every = f.Scalar();
                         // Below a second the timer and the store's commit would dominate;
                         // 0 would never fire.
                         if (ms && *ms < 1000) r.ctx().error(f, "every must be at least 1s");
                         e.every_ms = ms.value_or(0);
                     } else if (key == "cron") {
                         e.cron = r.string(f, "cron");
                         if (!f.IsScalar()) return;  // reported; "" is refused by parse_cron
                         Result<CronSpec> spec = parse_cron(e.cron);
                         if (!spec)
                             r.ctx().error(f, "cron: " + spec.error().message);
                         else if (!cron_next(spec.value(), 0))
                             r.ctx().error(f, "cron: '" + e.cron + "' never matches");
                         else
                             e.cron_spec = spec.value();
                     } else if (key == "inputs") {
                         if (r.mapping(f, "inputs")) e.inputs = detail::to_value(r.ctx(), f);
                     } else if (key == "catch_up") {
                         e.catch_up = r.boolean(f, "catch_up");
                     } else if (key == "overlap") {
                         std::string o = r.string(f, "overlap");
                         if (o == "skip" || o == "allow")
                             e.skip_overlap = o == "skip";
                         else if (f.IsScalar())
                             r.ctx().error(f, "overlap must be allow or skip, got '" + o + "'");
                     } else {
                         e.enabled = r.boolean(f, "enabled");
                     }
                 });
        if (e.name.empty()) r.ctx().error(item, "a schedules entry needs 'name'");
        if (e.workflow.empty()) r.ctx().error(item, "schedule '" + e.name + "' needs 'workflow'");
        bool has_every = bool(item["every"]), has_cron = bool(item["cron"]);
        if (has_every == has_cron)
            r.ctx().error(item, "schedule '" + e.name +
                                    "' needs exactly one of 'every' (a duration) or "
                                    "'cron' (\"MIN HOUR DOM MON DOW\", UTC)");
        for (const ScheduleEntry& other : c.schedule_entries)
            if (!e.name.empty() && other.name == e.name)
                r.ctx().error(item, "schedule '" + e.name + "' is defined twice");
        c.schedule_entries.push_back(std::move(e));
    }
}

void check_section(ConfigReader& r, const YAML::Node& v, const std::string& key, tmpl::Value& out) {
    bool list = key == "schedules";
    if (list ? !v.IsSequence() : !v.IsMap()) {
        r.ctx().error(v, key + " must be " + (list ? "a list" : "a mapping") + ", got " +
                             detail::describe_node(r.ctx(), v));
        return;
    }
    out = detail::to_value(r.ctx(), v);
}

// server: read here, where the file's positions are known (so `ferry validate` reports a
// mistake as FILE:LINE:COL); engine/server only copies the values.
void read_server(ConfigReader& r, const YAML::Node& v, ServerConfig& out) {
    if (!r.mapping(v, "server")) return;
    r.fields(v, "server",
             {"listen", "max_body", "shutdown_grace", "max_connections", "request_timeout",
              "idle_timeout"},
             [&](const std::string& key, const YAML::Node& n) {
                 const std::string field = "server." + key;
                 if (key == "listen") {
                     std::string text = r.nonempty(n, field), host;
                     uint16_t port = 0;
                     if (text.empty()) return;
                     bool dotted = !text.empty() &&
                                   text.find_first_not_of("0123456789.:") == std::string::npos;
                     in_addr v4{};
                     if (!split_listen(text, host, port))
                         r.ctx().error(n, field +
                                              " must be HOST:PORT with a port up to 65535, "
                                              "got '" +
                                              text + "'");
                     else if (dotted && ::inet_pton(AF_INET, host.c_str(), &v4) != 1)
                         r.ctx().error(n, field + ": '" + host + "' is not an IPv4 address");
                     else
                         out.listen = text;
                 } else if (key == "max_body") {
                     out.max_body = r.size(n, field);
                 } else if (key == "max_connections") {
                     out.max_connections = uint64_t(r.integer(n, field, 1024, 1, 1000000));
                 } else {
                     std::optional<uint64_t> ms = r.duration(n, field);
                     if (ms && *ms == 0 && key != "shutdown_grace")
                         return r.ctx().error(n, field + " must be more than 0");
                     (key == "shutdown_grace"    ? out.shutdown_grace_ms
                      : key == "request_timeout" ? out.request_timeout_ms
                                                 : out.idle_timeout_ms) = ms;
                 }
             });
}

// auth: read here, as server: is, so that `ferry validate` finds what `ferry serve` would
// refuse to start with; the server resolves the references and checks what they hold.
void read_auth_tokens(ConfigReader& r, const YAML::Node& v, std::vector<AuthToken>& out) {
    static const std::vector<std::string> kRoles = {"viewer", "operator", "admin"};
    if (!r.mapping(v, "auth")) return;
    r.fields(v, "auth", {"tokens"}, [&](const std::string&, const YAML::Node& tokens) {
        if (!tokens.IsSequence())
            return r.ctx().error(tokens, "auth.tokens must be a list, got " +
                                             detail::describe_node(r.ctx(), tokens));
        for (const YAML::Node& item : tokens) {
            if (!r.mapping(item, "an auth.tokens entry")) continue;
            AuthToken t;
            t.mark = r.ctx().mark(item);
            r.fields(item, "auth.tokens", {"name", "sha256", "role"},
                     [&](const std::string& key, const YAML::Node& f) {
                         if (key == "name") {
                             t.name = r.nonempty(f, "auth.tokens name");
                         } else if (key == "role") {
                             t.role = r.string(f, "auth.tokens role");
                             if (f.IsScalar() && !contains(kRoles, t.role))
                                 r.ctx().error(f, "role must be viewer, operator or admin, got '" +
                                                      t.role + "'" +
                                                      detail::did_you_mean(t.role, kRoles));
                         } else {
                             t.sha256 = r.text_or_secret(f, "auth.tokens sha256");
                             bool hex = t.sha256.size() == 64 &&
                                        std::all_of(t.sha256.begin(), t.sha256.end(), ::isxdigit);
                             if (f.IsScalar() && !hex && !is_secret_reference(t.sha256))
                                 r.ctx().error(f, "sha256 must be the 64 hex digits of the "
                                                  "token's SHA-256 (`printf %s TOKEN | "
                                                  "sha256sum`) or a secret reference");
                         }
                     });
            for (const char* required : {"name", "sha256", "role"})
                if (!item[required])
                    r.ctx().error(item,
                                  std::string("an auth.tokens entry needs '") + required + "'");
            for (const AuthToken& other : out) {
                if (!t.name.empty() && other.name == t.name)
                    r.ctx().error(item, "auth.tokens: '" + t.name + "' is defined twice");
                // One token, one role (references are compared by the server, resolved).
                else if (!t.sha256.empty() && !is_secret_reference(t.sha256) &&
                         strcasecmp(other.sha256.c_str(), t.sha256.c_str()) == 0)
                    r.ctx().error(item, "auth.tokens: '" + t.name + "' has the same sha256 as '" +
                                            other.name + "' (one token, one role)");
            }
            out.push_back(std::move(t));
        }
    });
}

// The smallest map worth opening: an empty store takes a few pages, one execution ~10 KB.
constexpr uint64_t kMinMapSize = uint64_t(1) << 20;
// LMDB maps the whole size up front: past what the address space can hold it cannot open.
constexpr uint64_t kMaxMapSize = uint64_t(1) << 46;

void read_store(ConfigReader& r, const YAML::Node& v, StoreConfig& out) {
    if (!r.mapping(v, "store")) return;
    r.fields(v, "store", {"map_size", "keep"}, [&](const std::string& key, const YAML::Node& n) {
        const std::string field = "store." + key;
        if (key == "keep") {
            std::optional<uint64_t> ms = r.duration(n, field);
            if (ms && *ms == 0) return r.ctx().error(n, field + " must be more than 0");
            out.keep_ms = ms;
            return;
        }
        std::optional<uint64_t> bytes = r.size(n, field);
        if (!bytes) return;
        if (*bytes < kMinMapSize || *bytes > kMaxMapSize)
            return r.ctx().error(n, field + " must be between 1MiB and 64TiB, got " +
                                        std::to_string(*bytes) + " bytes");
        out.map_size = bytes;
    });
}

}  // namespace

bool split_listen(const std::string& text, std::string& host, uint16_t& port) {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos) return false;
    host = text.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    char* end = nullptr;
    long p = std::strtol(text.c_str() + colon + 1, &end, 10);
    if (*end || p < 0 || p > 65535 || colon + 1 == text.size()) return false;
    port = uint16_t(p);
    return !host.empty();
}

const std::vector<std::string>& integration_types() {
    return kTypes;
}

const std::vector<std::string>& engine_event_types() {
    static const std::vector<std::string> types = {
        "execution.started", "execution.resumed", "execution.finished", "step.started",
        "step.finished",     "step.failed",       "step.skipped",       "step.retrying"};
    return types;
}

const FormSpec* ProjectConfig::form(const std::string& name) const {
    for (const FormSpec& f : form_specs)
        if (f.name == name) return &f;
    return nullptr;
}

const HookSpec* ProjectConfig::hook(const std::string& name) const {
    for (const HookSpec& h : hook_specs)
        if (h.name == name) return &h;
    return nullptr;
}

const IntegrationEntry* ProjectConfig::integration(const std::string& name) const {
    for (const IntegrationEntry& e : integrations)
        if (e.config.name == name) return &e;
    return nullptr;
}

std::vector<Diagnostic> ConfigLoadResult::file_problems() const {
    std::vector<Diagnostic> out;
    for (const IntegrationEntry& e : config.integrations)
        out.insert(out.end(), e.file_problems.begin(), e.file_problems.end());
    return out;
}

ConfigLoadResult load_project_config_text(const std::string& text, const std::string& file) {
    ConfigLoadResult result;
    result.config.file = file;
    Context ctx(text, file);
    ConfigReader r(ctx);
    YAML::Node root;
    if (!ctx.check_utf8()) {
        result.problems = std::move(ctx.problems());
        return result;
    }
    std::vector<YAML::Node> docs;
    try {
        docs = detail::load_yaml_documents(text);
    } catch (const YAML::ParserException& e) {
        ctx.error(ctx.mark(e.mark),
                  "YAML syntax error: " + detail::yaml_syntax_message(text, e.mark, e.msg));
        result.problems = std::move(ctx.problems());
        return result;
    }
    if (docs.size() > 1) {
        // YAML::Load read the first and dropped the rest unseen.
        ctx.error(docs[1], "ferry.yaml holds one YAML document; this is a second");
        result.problems = std::move(ctx.problems());
        return result;
    }
    if (!docs.empty()) root = docs[0];
    if (root.IsNull()) return result;  // an empty file configures nothing
    if (!root.IsMap()) {
        ctx.error(root, "ferry.yaml must be a mapping of sections (" + join(kTopKeys) + ")");
        result.problems = std::move(ctx.problems());
        return result;
    }
    r.fields(root, "ferry.yaml", kTopKeys, [&](const std::string& key, const YAML::Node& v) {
        ProjectConfig& c = result.config;
        if (key == "integrations") {
            if (!r.mapping(v, "integrations")) return;
            for_each_entry(
                ctx, v,
                [&](const std::string& name, const YAML::Node& name_node, const YAML::Node& body) {
                    if (!detail::is_identifier(name)) {
                        ctx.error(name_node, detail::identifier_problem("integration name", name));
                        return;
                    }
                    c.integrations.push_back(read_integration(r, name, body));
                });
        } else if (key == "events") {
            read_events(r, v, c);
        } else if (key == "server") {
            read_server(r, v, c.server);
        } else if (key == "store") {
            read_store(r, v, c.store);
        } else if (key == "auth") {
            read_auth_tokens(r, v, c.auth_tokens);
        } else if (key == "forms") {
            check_section(r, v, key, c.forms);
            if (v.IsMap()) detail::read_forms(r, v, c);
        } else if (key == "schedules") {
            check_section(r, v, key, c.schedules);
            if (v.IsSequence()) read_schedules(r, v, c);
        } else {
            check_section(r, v, key, c.hooks);
            if (v.IsMap()) detail::read_hooks(r, v, c);
        }
    });
    for (const EventSubscription& sub : result.config.events) {
        const IntegrationEntry* target = result.config.integration(sub.integration);
        if (!target) {
            std::vector<std::string> names;
            for (const auto& e : result.config.integrations)
                names.push_back(e.config.name);
            ctx.error(sub.mark, "events: unknown integration '" + sub.integration + "'" +
                                    detail::did_you_mean(sub.integration, names));
        } else if (target->config.type != "webhook") {
            ctx.error(sub.mark, "events: integration '" + sub.integration +
                                    "' must be of type webhook (events are signed webhooks), "
                                    "not " +
                                    target->config.type);
        }
    }
    result.problems = std::move(ctx.problems());
    return result;
}

}  // namespace ferry::workflow

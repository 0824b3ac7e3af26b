#include "workflow/project_config.h"

#include "runtime/integration/secrets.h"
#include "workflow/config_reader.h"

#include <arpa/inet.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
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
        const date::time_zone* zone_found = nullptr;
        r.fields(item, "schedules",
                 {"name", "workflow", "every", "cron", "timezone", "inputs", "catch_up", "enabled",
                  "overlap"},
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
                     } else if (key == "timezone") {
                         e.timezone = r.nonempty(f, "timezone");
                         if (e.timezone.empty()) return;  // reported
                         // UTC written out is as none: the tz database is not read for it.
                         if (is_utc_name(e.timezone)) return;
                         Result<const date::time_zone*> zone = find_time_zone(e.timezone);
                         if (!zone)
                             r.ctx().error(f, "timezone: " + zone.error().message);
                         else
                             zone_found = zone.value();
                     } else if (key == "inputs") {
                         if (!r.mapping(f, "inputs")) return;
                         e.inputs = detail::to_value(r.ctx(), f);
                         for (auto it = f.begin(); it != f.end(); ++it)
                             if (it->first.IsScalar())
                                 e.input_marks.emplace(it->first.Scalar(), r.ctx().mark(it->first));
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
                                    "'cron' (\"MIN HOUR DOM MON DOW\", UTC unless 'timezone')");
        // `every` counts elapsed time, the same in every zone: a zone there would promise
        // wall-clock behaviour it does not have.
        if (has_every && item["timezone"])
            r.ctx().error(item["timezone"], "timezone applies to 'cron' schedules; 'every' "
                                            "counts elapsed time, the same in any zone");
        e.cron_spec.zone = zone_found;
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

// A list of addresses and CIDR ranges: 127.0.0.1, 10.0.0.0/8, ::1.
void read_trusted_proxies(ConfigReader& r, const YAML::Node& v, std::vector<AddressRange>& out) {
    if (!v.IsSequence())
        return r.ctx().error(v, "server.trusted_proxies must be a list of addresses and CIDR "
                                "ranges, got " +
                                    detail::describe_node(r.ctx(), v));
    for (const YAML::Node& item : v) {
        std::string text = r.nonempty(item, "a server.trusted_proxies entry");
        if (text.empty()) continue;
        Result<AddressRange> range = parse_address_range(text);
        if (!range)
            r.ctx().error(item, "server.trusted_proxies: " + range.error().message);
        else
            out.push_back(range.value());
    }
}

// server: read here, where the file's positions are known (so `ferry validate` reports a
// mistake as FILE:LINE:COL); engine/server only copies the values.
void read_server(ConfigReader& r, const YAML::Node& v, ServerConfig& out) {
    if (!r.mapping(v, "server")) return;
    r.fields(v, "server",
             {"listen", "max_body", "shutdown_grace", "max_connections", "request_timeout",
              "idle_timeout", "trusted_proxies"},
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
                     else if (in6_addr v6{}; host.find(':') != std::string::npos &&
                                             ::inet_pton(AF_INET6, host.c_str(), &v6) != 1)
                         r.ctx().error(n, field + ": '" + host +
                                              "' is not an IPv6 address (one is written in "
                                              "brackets: [::1]:8080)");
                     else
                         out.listen = text;
                 } else if (key == "max_body") {
                     out.max_body = r.size(n, field);
                 } else if (key == "max_connections") {
                     out.max_connections = uint64_t(r.integer(n, field, 1024, 1, 1000000));
                 } else if (key == "trusted_proxies") {
                     read_trusted_proxies(r, n, out.trusted_proxies);
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
    // "[::1" split at its last colon left "[:" to resolve when the server started.
    if (host.find_first_of("[]") != std::string::npos) return false;
    char* end = nullptr;
    long p = std::strtol(text.c_str() + colon + 1, &end, 10);
    if (*end || p < 0 || p > 65535 || colon + 1 == text.size()) return false;
    port = uint16_t(p);
    return !host.empty();
}

const std::vector<std::string>& engine_event_types() {
    static const std::vector<std::string> types = {
        "execution.started", "execution.resumed", "execution.finished",
        "step.started",      "step.finished",     "step.failed",
        "step.skipped",      "step.retrying",     "step.waiting"};
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

ConfigLoadResult load_project_config_text(const std::string& file_text, const std::string& file) {
    ConfigLoadResult result;
    result.config.file = file;
    // A UTF-8 byte order mark is not part of the document (as for a workflow file): yaml-cpp's
    // positions count from after it, and so must every scan of the text.
    const std::string text =
        file_text.starts_with("\xEF\xBB\xBF") ? file_text.substr(3) : file_text;
    Context ctx(text, file);
    ConfigReader r(ctx);
    YAML::Node root;
    if (!ctx.check_characters()) {
        result.problems = std::move(ctx.problems());
        result.read_whole = false;
        return result;
    }
    std::vector<YAML::Node> docs;
    try {
        docs = detail::load_yaml_documents(text);
    } catch (const YAML::ParserException& e) {
        YAML::Mark at = e.mark;
        std::string message = detail::yaml_syntax_message(text, at, e.msg, /*quote_alias=*/false);
        ctx.error(ctx.mark(at), "YAML syntax error: " + message);
        result.problems = std::move(ctx.problems());
        result.read_whole = false;
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
                    c.integrations.push_back(detail::read_integration(r, name, body));
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

// The ferry.yaml reader's helpers, shared by project_config.cpp (integrations, events) and
// project_forms.cpp (forms, hooks). Not a public API.
#pragma once

#include "runtime/duration.h"
#include "runtime/integration/secrets.h"
#include "workflow/loader_internal.h"
#include "workflow/project_config.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace ferry::workflow::detail {

class ConfigReader {
  public:
    explicit ConfigReader(Context& ctx) : ctx_(ctx) {}

    std::string string(const YAML::Node& n, const std::string& field) {
        if (!n.IsScalar()) {
            ctx_.error(n, field + " must be a string, got " + describe_node(ctx_, n));
            return {};
        }
        return n.Scalar();
    }

    // A string that must say something: "" passed every check that looks at a value's
    // form (a base_url, a role, a workflow name) and failed only when used.
    std::string nonempty(const YAML::Node& n, const std::string& field) {
        std::string text = string(n, field);
        if (text.empty() && n.IsScalar()) ctx_.error(n, field + " must not be empty");
        return text;
    }

    std::string secret(const YAML::Node& n, const std::string& field) {
        std::string text = string(n, field);
        if (text.empty()) {
            // An empty secret is no secret: a hook verified with it accepted what anyone
            // can sign.
            if (n.IsScalar())
                ctx_.error(n, field + " must be a secret reference (${env:NAME} or "
                                      "${file:PATH}), not empty");
            return text;
        }
        if (Status s = check_secret_syntax(text); !s) {
            ctx_.error(n, field + ": " + s.error().message);
        } else if (!is_secret_reference(text)) {
            ctx_.error(n, field + " must be a secret reference (${env:NAME} or ${file:PATH}), "
                                  "not a literal value");
        }
        return text;
    }

    // A value that may be written as it is or kept elsewhere (a username, a client id):
    // a reference, if it is one, must be well formed; it is resolved where it is used.
    std::string text_or_secret(const YAML::Node& n, const std::string& field) {
        std::string text = string(n, field);
        if (Status s = check_secret_syntax(text); !s)
            ctx_.error(n, field + ": " + s.error().message);
        return text;
    }

    // Milliseconds, or nullopt once the problem is reported.
    std::optional<uint64_t> duration(const YAML::Node& n, const std::string& field) {
        // An empty value is an error like any other (a templated config left it blank): read
        // as "not given" it turned replay protection off without a word.
        if (!n.IsScalar()) {
            string(n, field);  // reports what it is
            return std::nullopt;
        }
        std::string text = n.Scalar();
        Result<uint64_t> ms = parse_duration_ms(text);
        if (!ms) {
            ctx_.error(n, field + ": " + ms.error().message);
            return std::nullopt;
        }
        return ms.value();
    }
    uint64_t duration(const YAML::Node& n, const std::string& field, uint64_t fallback) {
        return duration(n, field).value_or(fallback);
    }

    // Bytes, written as a size ("1MiB", "64GiB") or a bare integer; nullopt once a problem
    // (not a size, zero) is reported.
    std::optional<uint64_t> size(const YAML::Node& n, const std::string& field) {
        tmpl::Value value = scalar_value(ctx_, n);
        uint64_t bytes = 0;
        if (n.IsScalar() && value.is_int()) {
            bytes = value.as_int() > 0 ? uint64_t(value.as_int()) : 0;
        } else {
            if (!n.IsScalar()) {
                string(n, field);  // reports what it is
                return std::nullopt;
            }
            std::string text = n.Scalar();
            Result<uint64_t> parsed = parse_size_bytes(text);
            if (!parsed) {
                ctx_.error(n, field + ": " + parsed.error().message);
                return std::nullopt;
            }
            bytes = parsed.value();
        }
        if (bytes == 0) {
            ctx_.error(n, field + " must be more than 0");
            return std::nullopt;
        }
        return bytes;
    }

    double number(const YAML::Node& n, const std::string& field, double fallback, double min) {
        tmpl::Value v = scalar_value(ctx_, n);
        if (!n.IsScalar() || !(v.is_int() || v.is_float())) {
            ctx_.error(n, field + " must be a number, got " + describe_node(ctx_, n));
            return fallback;
        }
        double d = v.as_float();
        if (!std::isfinite(d)) {
            ctx_.error(n, field + " must be a finite number, got " + describe_node(ctx_, n));
            return fallback;
        }
        if (d < min) {
            char shown[32];
            std::snprintf(shown, sizeof shown, "%g", min);  // 0.001, not 0.001000
            ctx_.error(n, field + " must be at least " + shown);
            return fallback;
        }
        return d;
    }

    // A whole number in [min, max].
    int64_t integer(const YAML::Node& n, const std::string& field, int64_t fallback, int64_t min,
                    int64_t max) {
        tmpl::Value v = scalar_value(ctx_, n);
        if (!n.IsScalar() || !v.is_int()) {
            ctx_.error(n, field + " must be a whole number, got " + describe_node(ctx_, n));
            return fallback;
        }
        if (v.as_int() < min || v.as_int() > max) {
            ctx_.error(n, field + " must be between " + std::to_string(min) + " and " +
                              std::to_string(max) + ", got " + std::to_string(v.as_int()));
            return fallback;
        }
        return v.as_int();
    }

    bool boolean(const YAML::Node& n, const std::string& field) {
        tmpl::Value v = scalar_value(ctx_, n);
        if (!n.IsScalar() || !v.is_bool()) {
            ctx_.error(n, field + " must be true or false, got " + describe_node(ctx_, n));
            return false;
        }
        return v.as_bool();
    }

    bool mapping(const YAML::Node& n, const std::string& field) {
        if (n.IsMap()) return true;
        ctx_.error(n, field + " must be a mapping, got " + describe_node(ctx_, n));
        return false;
    }

    // Iterates a mapping, reporting keys outside `known` (with a suggestion).
    void fields(const YAML::Node& map, const std::string& where,
                const std::vector<std::string>& known,
                const std::function<void(const std::string&, const YAML::Node&)>& f) {
        for_each_entry(
            ctx_, map,
            [&](const std::string& key, const YAML::Node& key_node, const YAML::Node& value) {
                if (!contains(known, key)) {
                    ctx_.error(key_node,
                               "unknown key '" + key + "' in " + where + did_you_mean(key, known));
                    return;
                }
                f(key, value);
            });
    }

    // `rate_limit: {per_second, burst}` (or client_rate_limit:, as `key` says), a token
    // bucket (an integration's requests, a form's submissions): per_second at least 0.001,
    // burst at least 1.
    void rate_limit(const YAML::Node& v, const std::string& where, double& per_second,
                    double& burst, const std::string& key = "rate_limit") {
        if (!mapping(v, key)) return;
        fields(v, key + " of " + where, {"per_second", "burst"},
               [&](const std::string& k, const YAML::Node& t) {
                   double d = number(t, key + "." + k, 0, k == "burst" ? 1 : 0.001);
                   (k == "per_second" ? per_second : burst) = d;
               });
        if (!v["per_second"]) ctx_.error(v, key + " needs per_second (burst defaults to 1)");
    }

    Context& ctx() { return ctx_; }

  private:
    Context& ctx_;
};

// forms: and hooks: (project_forms.cpp).
void read_forms(ConfigReader& r, const YAML::Node& v, ProjectConfig& c);
void read_hooks(ConfigReader& r, const YAML::Node& v, ProjectConfig& c);
// One entry of integrations: (project_integrations.cpp).
IntegrationEntry read_integration(ConfigReader& r, const std::string& name, const YAML::Node& node);

}  // namespace ferry::workflow::detail

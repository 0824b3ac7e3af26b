// ferry.yaml: integrations parsed into runtime settings; every problem with its place.
#include "workflow/project_config.h"

#include "temp_dir.h"

#include <catch2/catch.hpp>

#include <fstream>

using namespace ferry;
using namespace ferry::workflow;

namespace {

std::string problems_of(const ConfigLoadResult& r) {
    std::string out;
    for (const auto& d : r.problems)
        out += d.describe() + "\n";
    return out;
}

}  // namespace

TEST_CASE("integrations: settings, auth, policies", "[config]") {
    auto r = load_project_config_text(R"(integrations:
  sn:
    type: servicenow
    base_url: https://x.service-now.com
    auth: {type: basic, username: svc, password: "${env:PW}"}
    timeout: 10s
    retry: {max_attempts: 5, initial_delay: 500ms, max_delay: 8s}
    rate_limit: {per_second: 10, burst: 20}
    circuit_breaker: {failures: 4, reset_after: 1m}
    defaults: {assignment_group: DevOps}
    table: change_request
  hook:
    type: webhook
    url: https://siem.example/ingest
    secrets: ["${env:OLD}", "${env:NEW}"]
    dry_run: true
)",
                                      "ferry.yaml");
    INFO(problems_of(r));
    REQUIRE(r.ok());
    REQUIRE(r.config.integrations.size() == 2);
    const IntegrationConfig& sn = r.config.integration("sn")->config;
    CHECK(sn.type == "servicenow");
    CHECK(sn.auth.type == "basic");
    CHECK(sn.auth.password == "${env:PW}");
    CHECK(sn.timeout_ms == 10000);
    CHECK(sn.retry.max_attempts == 5);
    CHECK(sn.retry.initial_delay_ms == 500);
    CHECK(sn.retry.max_delay_ms == 8000);
    CHECK(sn.rate_per_second == 10);
    CHECK(sn.rate_burst == 20);
    CHECK(sn.breaker_failures == 4);
    CHECK(sn.breaker_reset_ms == 60000);
    const tmpl::Value& settings = r.config.integration("sn")->settings;
    REQUIRE(settings.is_dict());
    CHECK(settings.dict_obj().find("table") != nullptr);
    CHECK(settings.dict_obj().find("auth") == nullptr);  // no secrets
    const IntegrationConfig& hook = r.config.integration("hook")->config;
    CHECK(hook.webhook_secrets.size() == 2);
    CHECK(hook.dry_run);
}

TEST_CASE("ferry.yaml is one YAML document, and a stray ',' is a syntax error", "[config]") {
    // YAML::Load read "," as an empty file (and yaml-cpp 0.7's LoadAll never returned).
    CHECK(problems_of(load_project_config_text(",", "ferry.yaml")) ==
          "ferry.yaml:1:1: YAML syntax error: no YAML node can start here\n");
    // A second document was dropped unseen.
    CHECK(problems_of(load_project_config_text("server: {}\n---\nauth: {}\n", "ferry.yaml")) ==
          "ferry.yaml:3:1: ferry.yaml holds one YAML document; this is a second\n");
    CHECK(load_project_config_text("", "ferry.yaml").ok());
    CHECK(load_project_config_text("# only a comment\n", "ferry.yaml").ok());
}

TEST_CASE("a quoted text ferry.yaml never closes is refused, a byte order mark or not",
          "[config]") {
    // The next integration was swallowed into the text; with a byte order mark the check
    // read three bytes off yaml-cpp's positions, missing this and refusing valid files.
    const std::string open_quote = "integrations:\n  a:\n    type: http\n"
                                   "    base_url: \"http://127.0.0.1:9\n"
                                   "  b: {type: http, base_url: http://127.0.0.1:9}\n";
    for (const std::string& bom : {std::string(), std::string("\xEF\xBB\xBF")}) {
        INFO(bom.size());
        CHECK(problems_of(load_project_config_text(bom + open_quote, "ferry.yaml")) ==
              "ferry.yaml:4:15: YAML syntax error: the quoted text that starts here is not "
              "closed: it runs to the end of the file\n");
        const auto valid = load_project_config_text(
            bom + "integrations:\n  a:\n    type: http\n    base_url: http://127.0.0.1:9\n"
                  "    defaults: {a: [\"'\", \"c\"]}\n",
            "ferry.yaml");
        CHECK(problems_of(valid) == "");
    }
}

TEST_CASE("ferry.yaml problems carry FILE:LINE:COL", "[config]") {
    auto r = load_project_config_text(R"(integrations:
  sn:
    type: servicenow
    base_url: https://x
    auth: {type: bearer}
  j:
    type: jira
    base_url: https://x
    project: OPS
servers: {}
)",
                                      "ferry.yaml");
    std::string p = problems_of(r);
    CHECK(p.find("ferry.yaml:5:11: integration 'sn'.auth: 'token' is required for type bearer") !=
          std::string::npos);
    CHECK(p.find("ferry.yaml:9:5: unknown key 'project' in integration 'j' (did you mean "
                 "'project_key'?)") != std::string::npos);
    CHECK(p.find("ferry.yaml:10:1: unknown key 'servers'") != std::string::npos);
}

TEST_CASE("a duplicate key in a section read twice is one problem", "[config]") {
    // schedules, forms and hooks are converted whole and read field by field: each
    // duplicate key was reported twice, and counted twice by ferry validate.
    auto r = load_project_config_text(R"(schedules:
  - name: n
    workflow: w
    every: 1h
    every: 2h
forms:
  f:
    workflow: w
    workflow: v
    fields: [{name: a}]
)",
                                      "ferry.yaml");
    std::vector<std::string> problems;
    for (const auto& d : r.problems)
        problems.push_back(d.describe());
    CHECK(problems == std::vector<std::string>{
                          "ferry.yaml:5:5: duplicate key 'every' (first at line 4)",
                          "ferry.yaml:9:5: duplicate key 'workflow' (first at line 8)",
                      });
}

TEST_CASE("auth: secrets are one whole reference, token_url is a URL or a path", "[config]") {
    auto r = load_project_config_text(R"(integrations:
  a:
    type: http
    base_url: https://x
    auth: {type: basic, username: "${env:SN_USER}", password: "${env:SN_A}${env:SN_B}"}
  b:
    type: http
    base_url: https://x
    auth: {type: bearer, token: "Bearer ${env:T}"}
  c:
    type: http
    base_url: https://x
    auth: {type: oauth2, token_url: "ftp://x/t", client_id: "${vault:id}", client_secret: "${env:S}"}
  d:
    type: http
    base_url: https://x
    auth: {type: oauth2, token_url: /oauth/token, client_id: ferry, client_secret: "${env:S}"}
)",
                                      "ferry.yaml");
    std::string p = problems_of(r);
    INFO(p);
    // A username may be a reference (resolved when used): no problem on it.
    CHECK(p.find("auth.username") == std::string::npos);
    // Named by its references, never quoted: the text beside them may be a secret.
    CHECK(p.find("ferry.yaml:5:63: auth.password: a secret is exactly one reference, ${env:NAME} "
                 "or ${file:PATH}, with nothing around it (this value has text beside "
                 "${env:SN_A}, ${env:SN_B}; the value is not shown)") != std::string::npos);
    CHECK(p.find("ferry.yaml:9:33: auth.token: a secret is exactly one reference") !=
          std::string::npos);
    CHECK(p.find("Bearer") == std::string::npos);
    CHECK(p.find("auth.token_url must be an http:// or https:// URL or a path starting with /, "
                 "got 'ftp://x/t'") != std::string::npos);
    CHECK(p.find("auth.client_id: unknown secret reference '${vault:...}'") != std::string::npos);
    CHECK(p.find("integration 'd'") == std::string::npos);
}

TEST_CASE("a base_url with credentials is one problem, not also a missing one", "[config]") {
    auto r = load_project_config_text(R"(integrations:
  sn:
    type: servicenow
    base_url: https://user:pw@x.service-now.com
    auth: {type: bearer, token: "${env:T}"}
)",
                                      "ferry.yaml");
    CHECK(problems_of(r) ==
          "ferry.yaml:4:15: base_url must not carry credentials (user:password@host): use auth: "
          "with a ${env:NAME} or ${file:PATH} reference\n");
}

TEST_CASE("a URL libcurl cannot send to, or a base_url with a query, is a problem at its place",
          "[config]") {
    auto r = load_project_config_text(R"(integrations:
  a: {type: http, base_url: "http://[::1"}
  b: {type: http, base_url: "http://x:99999"}
  c: {type: http, base_url: "http://%zz"}
  d: {type: http, base_url: "http://x#frag"}
  e: {type: http, base_url: "http://x/api?v=2"}
  f: {type: webhook, url: "https://x/in#part"}
  g: {type: http, base_url: "http://x", auth: {type: oauth2, token_url: "http://x:70000/t", client_id: c, client_secret: "${env:S}"}}
  fine: {type: webhook, url: "https://siem.example:8443/in?token=abc"}
)",
                                      "ferry.yaml");
    std::string p = problems_of(r);
    INFO(p);
    CHECK(p.find("ferry.yaml:2:29: base_url is not a URL libcurl can send to (Bad IPv6 "
                 "address), got 'http://[::1'") != std::string::npos);
    CHECK(p.find("ferry.yaml:3:29: base_url is not a URL libcurl can send to (Port number was "
                 "not a decimal number between 0 and 65535)") != std::string::npos);
    CHECK(p.find("ferry.yaml:4:29: base_url has a host that is no name or address, got "
                 "'http://%zz'") != std::string::npos);
    CHECK(p.find("ferry.yaml:5:29: base_url ends at its path: no query or fragment (?, #), got "
                 "'http://x#frag'") != std::string::npos);
    CHECK(p.find("ferry.yaml:6:29: base_url ends at its path") != std::string::npos);
    CHECK(p.find("ferry.yaml:7:27: url has a fragment (#), which is never sent, got "
                 "'https://x/in#part'") != std::string::npos);
    CHECK(p.find("auth.token_url is not a URL libcurl can send to (Port number") !=
          std::string::npos);
    CHECK(p.find("fine") == std::string::npos);
}

TEST_CASE("a base_url or token_url without a host is a problem at its place", "[config]") {
    auto r = load_project_config_text(R"(integrations:
  sn:
    type: servicenow
    base_url: https://
    auth: {type: bearer, token: "${env:T}"}
  jira:
    type: jira
    base_url: "http://:8080/rest"
    auth: {type: oauth2, token_url: "https:///token", client_id: c, client_secret: "${env:S}"}
  hook: {type: webhook, url: "https://?x=1"}
  fine: {type: webhook, url: "https://siem.example:8443/in"}
)",
                                      "ferry.yaml");
    std::string p = problems_of(r);
    CHECK(p.find("ferry.yaml:4:15: base_url has no host, got 'https://'") != std::string::npos);
    CHECK(p.find("ferry.yaml:8:15: base_url has no host, got 'http://:8080/rest'") !=
          std::string::npos);
    CHECK(p.find("auth.token_url has no host, got 'https:///token'") != std::string::npos);
    CHECK(p.find("ferry.yaml:10:30: url has no host, got 'https://?x=1'") != std::string::npos);
    CHECK(p.find("'fine'") == std::string::npos);
    CHECK(p.find("fine") == std::string::npos);
}

TEST_CASE("a token_url with credentials in it is a problem at its place", "[config]") {
    // base_url and url refused them; the token URL's password went into errors and records.
    auto r = load_project_config_text(R"(integrations:
  sn:
    type: servicenow
    base_url: https://sn.example
    auth: {type: oauth2, token_url: "https://ferry:S3cret@idp.example/token", client_id: c, client_secret: "${env:S}"}
)",
                                      "ferry.yaml");
    CHECK(problems_of(r).find("ferry.yaml:5:37: auth.token_url must not carry credentials "
                              "(user:password@host): use client_id and client_secret") !=
          std::string::npos);
}

TEST_CASE("a URL with a space or a control character is a problem at its place", "[config]") {
    // The HTTP client refuses it when it sends, so the delivery failed (or went to the DLQ)
    // after validate had passed it.
    auto r = load_project_config_text(R"(integrations:
  hook: {type: webhook, url: "https://siem.example/a b"}
  api: {type: http, base_url: "https://x.example/\r\nX-Evil: 1"}
  sn:
    type: servicenow
    base_url: https://sn.example
    auth: {type: oauth2, token_url: "/oauth\ttoken", client_id: c, client_secret: "${env:S}"}
  fine: {type: webhook, url: "https://siem.example/a%20b"}
)",
                                      "ferry.yaml");
    CHECK(problems_of(r) ==
          "ferry.yaml:2:30: url contains a space or a control character (percent-encode it: "
          "%20)\n"
          "ferry.yaml:3:31: base_url contains a space or a control character (percent-encode "
          "it: %20)\n"
          "ferry.yaml:7:37: auth.token_url contains a space or a control character "
          "(percent-encode it: %20)\n");
}

TEST_CASE("tls files that cannot be read or are not PEM are file problems at their place",
          "[config][tls]") {
    ferry::testing::TempDir dir;
    std::ofstream(dir.sub("ca.pem"))
        << "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    std::ofstream(dir.sub("key.der")) << "\x30\x82\x01\x0a secret bytes";
    std::string yaml = "integrations:\n"
                       "  sn:\n"
                       "    type: servicenow\n"
                       "    base_url: https://x.example\n"
                       "    tls:\n"
                       "      ca_file: " +
                       dir.sub("ca.pem") +
                       "\n"
                       "      client_cert: " +
                       dir.sub("missing.pem") +
                       "\n"
                       "      client_key: " +
                       dir.sub("key.der") +
                       "\n"
                       "  other:\n"
                       "    type: http\n"
                       "    base_url: https://y.example\n"
                       "    tls: {ca_file: " +
                       dir.path() + "}\n";
    auto r = load_project_config_text(yaml, "ferry.yaml");
    // Not problems of the file (run and serve warn; a dry run needs no TLS file): validate
    // reports them.
    CHECK(r.ok());
    std::string p;
    for (const Diagnostic& d : r.file_problems())
        p += d.describe() + "\n";
    INFO(p);
    CHECK(p.find("ca.pem") == std::string::npos);  // a PEM file is fine
    CHECK(p.find("ferry.yaml:7:20: tls.client_cert: cannot read '" + dir.sub("missing.pem") +
                 "': No such file or directory") != std::string::npos);
    CHECK(p.find("ferry.yaml:8:19: tls.client_key: '" + dir.sub("key.der") +
                 "' is not a PEM file (no -----BEGIN line)") != std::string::npos);
    CHECK(p.find("secret bytes") == std::string::npos);
    CHECK(p.find("tls.ca_file: '" + dir.path() + "' is not a regular file") != std::string::npos);
}

TEST_CASE("ferry.yaml that is not UTF-8 is one problem, at the bad byte", "[config]") {
    auto r = load_project_config_text("server:\n  listen: \"127.0.0.1:80\xff\"\n", "ferry.yaml");
    CHECK(problems_of(r) ==
          "ferry.yaml:2:24: the file is not valid UTF-8 (byte 0xFF); save it as UTF-8\n");
}

TEST_CASE("ferry.yaml with a control character is one problem, at it", "[config]") {
    // A NUL before 'n' in a plain URL became a line break in the URL.
    auto r = load_project_config_text(
        std::string("integrations:\n  w: {type: webhook, url: https://a.example/in\0nx}\n", 65),
        "ferry.yaml");
    CHECK(problems_of(r) == "ferry.yaml:2:47: the file holds a control character (byte 0x00), "
                            "which YAML does not allow; write it as an escape in a "
                            "double-quoted string (\\x00)\n");
}

TEST_CASE("server: settings are checked with their positions", "[config][server]") {
    auto good = load_project_config_text(
        "server: {listen: \"127.0.0.1:8080\", max_body: 1MiB, shutdown_grace: 500ms}\n",
        "ferry.yaml");
    CHECK(problems_of(good).empty());
    CHECK(load_project_config_text("server: {max_body: 4096}\n", "ferry.yaml").ok());
    auto r = load_project_config_text(R"(server:
  listen: localhost
  max_body: 1 megabyte
  shutdown_grace: soon
  tls: true
)",
                                      "ferry.yaml");
    std::string p = problems_of(r);
    INFO(p);
    CHECK(p.find("ferry.yaml:2:11: server.listen must be HOST:PORT with a port up to 65535, "
                 "got 'localhost'") != std::string::npos);
    CHECK(p.find("ferry.yaml:3:13: server.max_body: expected a size like 1MiB, 512KiB or 4KB, "
                 "got '1 megabyte'") != std::string::npos);
    CHECK(p.find("ferry.yaml:4:19: server.shutdown_grace: expected a duration like 300ms, 2s, "
                 "1m30s or 1h, got 'soon'") != std::string::npos);
    CHECK(p.find("ferry.yaml:5:3: unknown key 'tls' in server") != std::string::npos);
    auto limits = load_project_config_text(
        "server: {max_connections: 64, request_timeout: 2s, idle_timeout: 750ms}\n", "ferry.yaml");
    REQUIRE(limits.ok());
    CHECK(limits.config.server.max_connections == 64u);
    CHECK(limits.config.server.request_timeout_ms == 2000u);
    CHECK(limits.config.server.idle_timeout_ms == 750u);
    auto bad_limits = load_project_config_text(
        "server: {max_connections: many, request_timeout: 0ms, idle_timeout: 1 minute}\n",
        "ferry.yaml");
    std::string lp = problems_of(bad_limits);
    INFO(lp);
    CHECK(lp.find("ferry.yaml:1:27: server.max_connections must be a whole number, got 'many'") !=
          std::string::npos);
    CHECK(lp.find("ferry.yaml:1:50: server.request_timeout must be more than 0") !=
          std::string::npos);
    CHECK(lp.find("ferry.yaml:1:69: server.idle_timeout: expected a duration") !=
          std::string::npos);
    for (const char* listen :
         {"127.0.0.1:99999", "127.0.0.1:", ":80", "host:http", "[::1", "[::1:80", "::1]:80"}) {
        INFO(listen);
        CHECK(problems_of(load_project_config_text(
                              "server: {listen: \"" + std::string(listen) + "\"}\n", "ferry.yaml"))
                  .find("server.listen must be HOST:PORT with a port up to 65535") !=
              std::string::npos);
    }
    CHECK(problems_of(
              load_project_config_text("server: {listen: \"999.1.1.1:80\"}\n", "ferry.yaml")) ==
          "ferry.yaml:1:18: server.listen: '999.1.1.1' is not an IPv4 address\n");
    CHECK(problems_of(
              load_project_config_text("server: {listen: \"fe80::zz:80\"}\n", "ferry.yaml")) ==
          "ferry.yaml:1:18: server.listen: 'fe80::zz' is not an IPv6 address (one is written in "
          "brackets: [::1]:8080)\n");
    for (const char* listen : {"0.0.0.0:0", "[::1]:8080", "localhost:8080", "ferry.internal:80"})
        CHECK(load_project_config_text("server: {listen: \"" + std::string(listen) + "\"}\n",
                                       "ferry.yaml")
                  .ok());
    auto zero = load_project_config_text("server: {max_body: 0}\n", "ferry.yaml");
    CHECK(problems_of(zero).find("ferry.yaml:1:20: server.max_body must be more than 0") !=
          std::string::npos);
}

TEST_CASE("auth: tokens are checked with their positions, as serve would refuse them",
          "[config][auth]") {
    const std::string digest(64, 'a');
    auto good = load_project_config_text("auth:\n  tokens:\n"
                                         "    - {name: ci, sha256: \"" +
                                             digest +
                                             "\", role: operator}\n"
                                             "    - {name: ops, sha256: \"${env:OPS_SHA}\", "
                                             "role: admin}\n",
                                         "ferry.yaml");
    INFO(problems_of(good));
    REQUIRE(good.ok());
    REQUIRE(good.config.auth_tokens.size() == 2);
    CHECK(good.config.auth_tokens[0].name == "ci");
    CHECK(good.config.auth_tokens[0].role == "operator");
    CHECK(good.config.auth_tokens[1].sha256 == "${env:OPS_SHA}");

    auto bad = load_project_config_text(R"(auth:
  tokens:
    - {name: a, sha256: "zz", role: god}
    - {name: a, sha256: ")" + digest + R"(", role: admn, extra: 1}
    - {sha256: ")" + digest + R"("}
    - 5
  bogus: 5
)",
                                        "ferry.yaml");
    std::string p = problems_of(bad);
    INFO(p);
    CHECK(p.find("ferry.yaml:3:25: sha256 must be the 64 hex digits") != std::string::npos);
    CHECK(p.find("ferry.yaml:3:37: role must be viewer, operator or admin, got 'god'") !=
          std::string::npos);
    CHECK(p.find("got 'admn' (did you mean 'admin'?)") != std::string::npos);
    CHECK(p.find("unknown key 'extra' in auth.tokens") != std::string::npos);
    CHECK(p.find("ferry.yaml:4:7: auth.tokens: 'a' is defined twice") != std::string::npos);
    CHECK(p.find("ferry.yaml:5:7: an auth.tokens entry needs 'name'") != std::string::npos);
    CHECK(p.find("ferry.yaml:5:7: an auth.tokens entry needs 'role'") != std::string::npos);
    CHECK(p.find("ferry.yaml:6:7: an auth.tokens entry must be a mapping") != std::string::npos);
    CHECK(p.find("ferry.yaml:7:3: unknown key 'bogus' in auth") != std::string::npos);
    CHECK(problems_of(load_project_config_text("auth: {tokens: 5}\n", "ferry.yaml"))
              .find("ferry.yaml:1:16: auth.tokens must be a list") != std::string::npos);
    // One token, one role: the server took the first entry's, silently.
    std::string upper(64, 'A');
    auto twice = load_project_config_text("auth:\n  tokens:\n"
                                          "    - {name: low, sha256: \"" +
                                              digest +
                                              "\", role: viewer}\n"
                                              "    - {name: high, sha256: \"" +
                                              upper + "\", role: admin}\n",
                                          "ferry.yaml");
    CHECK(problems_of(twice).find(
              "ferry.yaml:4:7: auth.tokens: 'high' has the same sha256 as 'low'") !=
          std::string::npos);
}

TEST_CASE("store: map_size is a size within what LMDB can map", "[config][store]") {
    auto good = load_project_config_text("store: {map_size: 64GiB}\n", "ferry.yaml");
    REQUIRE(good.ok());
    CHECK(good.config.store.map_size == (uint64_t(64) << 30));
    auto bytes = load_project_config_text("store: {map_size: 4194304}\n", "ferry.yaml");
    REQUIRE(bytes.ok());
    CHECK(bytes.config.store.map_size == 4194304u);
    CHECK_FALSE(load_project_config_text("", "ferry.yaml").config.store.map_size.has_value());

    auto r = load_project_config_text(R"(store:
  map_size: lots
  compact: true
)",
                                      "ferry.yaml");
    std::string p = problems_of(r);
    INFO(p);
    CHECK(p.find("ferry.yaml:2:13: store.map_size: expected a size like 1MiB, 512KiB or 4KB, "
                 "got 'lots'") != std::string::npos);
    CHECK(p.find("ferry.yaml:3:3: unknown key 'compact' in store") != std::string::npos);
    CHECK(problems_of(load_project_config_text("store: {map_size: 64KiB}\n", "ferry.yaml")) ==
          "ferry.yaml:1:19: store.map_size must be between 1MiB and 64TiB, got 65536 bytes\n");
    CHECK(problems_of(load_project_config_text("store: {map_size: 65TiB}\n", "ferry.yaml"))
              .find("store.map_size must be between 1MiB and 64TiB") != std::string::npos);
    CHECK(problems_of(load_project_config_text("store: {map_size: 0}\n", "ferry.yaml")) ==
          "ferry.yaml:1:19: store.map_size must be more than 0\n");
    CHECK(problems_of(load_project_config_text("store: 16GiB\n", "ferry.yaml"))
              .find("store must be a mapping") != std::string::npos);
}

TEST_CASE("store: keep is a duration more than 0", "[config][store]") {
    auto good = load_project_config_text("store: {keep: 90d, map_size: 1GiB}\n", "ferry.yaml");
    REQUIRE(good.ok());
    CHECK(good.config.store.keep_ms == uint64_t(90) * 86'400'000);
    CHECK_FALSE(load_project_config_text("store: {map_size: 1GiB}\n", "ferry.yaml")
                    .config.store.keep_ms.has_value());
    CHECK(problems_of(load_project_config_text("store: {keep: 0s}\n", "ferry.yaml")) ==
          "ferry.yaml:1:15: store.keep must be more than 0\n");
    CHECK(problems_of(load_project_config_text("store: {keep: forever}\n", "ferry.yaml"))
              .find("ferry.yaml:1:15: store.keep: expected a duration") != std::string::npos);
}

TEST_CASE("an empty ferry.yaml configures nothing", "[config]") {
    auto r = load_project_config_text("", "ferry.yaml");
    CHECK(r.ok());
    CHECK(r.config.integrations.empty());
    auto bad = load_project_config_text("integrations: [1, 2]\n", "ferry.yaml");
    CHECK(problems_of(bad).find("ferry.yaml:1:15: integrations must be a mapping") !=
          std::string::npos);
}

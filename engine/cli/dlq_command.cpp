// `ferry dlq list|replay|drop`: deliveries a task gave up on (webhook.emit after its last
// attempt), kept in LMDB until an operator replays or drops them.
#include "cli/commands.h"
#include "cli/common.h"

#include "core/dead_letters.h"
#include "core/values.h"
#include "runtime/utf8.h"
#include "workflow/suggest.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace ferry::cli {

using tmpl::Value;

namespace {

constexpr const char* kDlqUsage =
    "usage: ferry dlq list [--json]\n"
    "       ferry dlq replay ID     send the delivery again through its integration\n"
    "                               (re-signed, same webhook-id); removed when it succeeds\n"
    "       ferry dlq replay --all [--integration NAME] [--limit N]\n"
    "                               replay the queue oldest first (only NAME's deliveries;\n"
    "                               at most N), one JSON line each; stops at the first\n"
    "                               that fails (the receiver is still down: the rest wait)\n"
    "       ferry dlq drop ID       forget the delivery\n"
    "\n"
    "Common options: --project DIR, --data DIR. Options take their value as the next\n"
    "argument or after '=' (--limit=5).\n"
    "Exit status: 0 success, 1 the replay failed (or a drop found the entry being replayed\n"
    "by another ferry process), 2 bad usage, an unknown ID, or an entry refused before\n"
    "sending (being replayed by another process included).\n";

std::string text(const Value& v, const char* key) {
    const Value* f = engine::dict_get(v, key);
    return f && !f->is_none() ? tmpl::to_str(*f) : std::string();
}

// Page by page: the queue may hold tens of thousands of deliveries, each with its body.
int list(engine::App& app, bool json) {
    constexpr size_t kPage = 1000;
    std::string after;
    size_t listed = 0;
    for (;;) {
        auto entries = app.store->list_dlq(after, kPage);
        if (!entries) {
            if (json && listed) std::printf("]\n");
            eprintf("ferry dlq: %s\n", entries.error().describe().c_str());
            return 1;
        }
        for (const auto& e : entries.value()) {
            if (json) {
                std::printf("%s%s", listed ? "," : "[", engine::shown_dead_letter(e.json).c_str());
            } else {
                if (!listed)
                    std::printf("%-26s  %-24s  %-16s  %-8s  %s\n", "ID", "CREATED", "INTEGRATION",
                                "ATTEMPTS", "ERROR (the last replay's, when one failed)");
                Value v = tmpl::value_from_json(e.json);
                // What an operator acts on: why the last replay failed, else the delivery.
                std::string error = text(v, "last_replay_error");
                error = printable(error.empty() ? text(v, "error") : "replay: " + error, true);
                if (error.size() > 60) error = error.substr(0, utf8_cut(error, 57)) + "...";
                std::printf("%-26s  %-24s  %-16s  %-8s  %s\n", e.key.c_str(),
                            text(v, "created_at").c_str(), text(v, "integration").c_str(),
                            text(v, "attempts").c_str(), error.c_str());
            }
            ++listed;
        }
        if (entries->size() < kPage) break;
        after = entries->back().key;
    }
    if (json) {
        std::printf(listed ? "]\n" : "[]\n");
    } else if (!listed) {
        eprintf("the dead-letter queue is empty\n");
    }
    return 0;
}

int drop(engine::App& app, const std::string& id) {
    Result<engine::DropResult> r = engine::drop_dead_letter(app, id);
    if (!r && r.error().kind == ErrorKind::NotFound) {
        eprintf("ferry dlq: no dead letter '%s'\n", id.c_str());
        return 2;
    }
    if (!r) {
        eprintf("ferry dlq: %s\n", r.error().describe().c_str());
        return 1;
    }
    if (!r->dropped) {
        eprintf("ferry dlq: %s\n", r->busy.c_str());
        return 1;
    }
    if (Status s = app.store->commit(); !s) {
        eprintf("ferry dlq: %s\n", s.error().describe().c_str());
        return 1;
    }
    eprintf("dropped %s\n", id.c_str());
    return 0;
}

int replay(engine::App& app, const std::string& id, bool quiet = false) {
    std::optional<Result<engine::ReplayResult>> outcome;
    engine::replay_dead_letter(app, id,
                               [&](Result<engine::ReplayResult> r) { outcome = std::move(r); });
    while (!outcome)
        app.loop.run_once(true);
    if (Status s = app.store->commit(); !s) {
        eprintf("ferry dlq: %s\n", s.error().describe().c_str());
        return 1;
    }
    if (!*outcome) {
        eprintf("ferry dlq: %s\n", outcome->error().message.c_str());
        return 2;
    }
    const engine::ReplayResult& r = outcome->value();
    if (r.busy) {
        eprintf("ferry dlq: %s\n", r.error.c_str());
        return 2;
    }
    std::printf("{\"id\":%s,\"replayed\":%s,\"status\":%s,\"attempts\":%d}\n",
                engine::to_json_text(Value::string(id)).c_str(), r.delivered ? "true" : "false",
                r.status ? std::to_string(r.status).c_str() : "null", r.attempts);
    if (r.refused) {
        // Nothing went out, for want of configuration (a secret that does not resolve): the
        // usage's "refused before sending", which a retry loop keyed on 1 must not spin on.
        // A token endpoint that is down, or an open circuit, is a failure that passes (1).
        eprintf("ferry dlq: replay of %s refused before sending: %s; it stays in the queue\n",
                id.c_str(), r.error.c_str());
        return 2;
    }
    if (!r.delivered) {
        eprintf("ferry dlq: replay of %s failed: %s; it stays in the queue\n", id.c_str(),
                r.error.c_str());
        return 1;
    }
    if (!quiet) eprintf("replayed %s (HTTP %ld); removed from the queue\n", id.c_str(), r.status);
    return 0;
}

// The queue oldest first, one at a time (a receiver back after a weekend takes them in the
// order they were given up on), until one fails: its receiver is still down, and the rest
// would only add attempts to their records.
int replay_all(engine::App& app, const std::string& integration, size_t limit) {
    constexpr size_t kPage = 1000;
    std::string after;
    size_t replayed = 0, refused = 0, matched = 0;
    for (;;) {
        auto entries = app.store->list_dlq(after, kPage);
        if (!entries) {
            eprintf("ferry dlq: %s\n", entries.error().describe().c_str());
            return 1;
        }
        for (const auto& e : entries.value()) {
            after = e.key;
            if (!integration.empty() &&
                text(tmpl::value_from_json(e.json), "integration") != integration)
                continue;
            ++matched;
            if (limit && replayed == limit) break;
            int rc = replay(app, e.key, /*quiet=*/true);
            if (rc == 2) {
                // Refused before sending (its integration gone, a URL off its origins): it
                // says why, and the others need not wait for it to be mended.
                ++refused;
                continue;
            }
            if (rc != 0) {
                eprintf("ferry dlq: replayed %zu, then stopped: %s failed\n", replayed,
                        e.key.c_str());
                return rc;
            }
            ++replayed;
            std::fflush(stdout);  // each line as it is true: a stop midway keeps them
            if (replayed % 100 == 0) eprintf("replayed %zu...\n", replayed);
        }
        if (entries.value().size() < kPage || (limit && replayed == limit)) break;
    }
    // A mistyped name matched nothing and said "replayed 0 ... removed": a cron job's
    // typo passed as success for ever. A name ferry.yaml no longer defines is fine while
    // entries for it wait (they are refused above, each saying why).
    if (!integration.empty() && matched == 0) {
        if (!app.config.integration(integration)) {
            std::vector<std::string> names;
            for (const auto& entry : app.config.integrations)
                names.push_back(entry.config.name);
            return usage_error("dlq", "no integration '" + integration +
                                          "' in ferry.yaml, and no dead letter for it" +
                                          workflow::did_you_mean(integration, names));
        }
        eprintf("no dead letters for integration '%s'\n", integration.c_str());
        return 0;
    }
    std::string left =
        refused ? ", " + std::to_string(refused) + " refused (above): they stay" : "";
    eprintf("replayed %zu deliveries; removed from the queue%s\n", replayed, left.c_str());
    return refused ? 1 : 0;
}

}  // namespace

int dlq_command(int argc, char** argv) {
    CommonOptions common;
    std::vector<std::string> args;
    bool json = false, all = false;
    std::string integration;
    size_t limit = 0;
    for (int i = 0; i < argc; ++i) {
        std::string_view arg = argv[i];
        std::string err;
        if (take_common_option(argc, argv, i, common, err)) {
            if (!err.empty()) return usage_error("dlq", err);
        } else if (arg == "--all") {
            all = true;
        } else if (take_named_option(argc, argv, i, "--integration", integration, err)) {
            if (!err.empty()) return usage_error("dlq", err);
        } else if (std::string value; take_named_option(argc, argv, i, "--limit", value, err)) {
            if (!err.empty()) return usage_error("dlq", err);
            char* end = nullptr;
            errno = 0;
            unsigned long long n = std::strtoull(value.c_str(), &end, 10);
            if (*end || errno || n == 0 || value[0] == '-')
                return usage_error("dlq", "--limit must be a positive number, got '" + value + "'");
            limit = size_t(n);
        } else if (arg == "-h" || arg == "--help") {
            std::fputs(kDlqUsage, stdout);
            return 0;
        } else if (arg == "--json") {
            json = true;
        } else if (!arg.empty() && arg[0] == '-') {
            return unexpected_argument("dlq", arg);
        } else {
            args.emplace_back(arg);
        }
    }
    if (args.empty()) return usage_error("dlq", "a subcommand is required: list, replay or drop");
    const std::string& sub = args[0];
    if (sub != "list" && sub != "replay" && sub != "drop")
        return usage_error("dlq", "unknown subcommand '" + sub + "' (list, replay or drop)");
    if (sub == "list" && args.size() != 1) return usage_error("dlq", "list takes no arguments");
    if ((all || !integration.empty() || limit) && sub != "replay")
        return usage_error("dlq", "--all, --integration and --limit go with replay");
    if ((!integration.empty() || limit) && !all)
        return usage_error("dlq", "--integration and --limit go with replay --all");
    if (all && args.size() != 1) return usage_error("dlq", "replay --all takes no ID");
    if (sub != "list" && !all && args.size() != 2) return usage_error("dlq", sub + " needs one ID");
    common.store_must_exist = true;
    common.reads_history_only = sub == "list";
    auto app = open_app(common, true);
    if (!app) return 2;
    if (sub == "list") return list(*app, json);
    if (sub == "drop") return drop(*app, args[1]);
    if (all) return replay_all(*app, integration, limit);
    return replay(*app, args[1]);
}

}  // namespace ferry::cli

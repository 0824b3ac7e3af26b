// `ferry serve`: the REST API (engine/server) on the process's one loop. Interrupted
// executions are resumed at start; SIGTERM/SIGINT stop accepting, let running executions
// finish for a bounded time (what is left stays durable and resumes at the next start), and
// exit 0.
#include "cli/build_commit.h"
#include "cli/commands.h"
#include "cli/common.h"

#include "core/values.h"
#include "runtime/integration/secrets.h"
#include "runtime/line_log.h"
#include "server/api.h"
#include "server/events.h"
#include "server/heap_trim.h"
#include "server/metrics.h"
#include "server/pruning.h"
#include "server/schedules.h"
#include "server/server_log.h"

#include <uv.h>

#include <sys/resource.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <optional>
#include <set>
#include <string>
#include <unistd.h>

namespace ferry::cli {

namespace {

constexpr const char* kServeUsage =
    "usage: ferry serve [--listen HOST:PORT] [--project DIR] [--data DIR] [--dry-run] [--quiet]\n"
    "                   [--no-sync]\n"
    "\n"
    "Serves the REST API (docs/api.md), request forms, inbound hooks, schedules and /metrics.\n"
    "Default listen address: server.listen in ferry.yaml, else 127.0.0.1:8080.\n"
    "--dry-run: every execution the server starts (API, forms, hooks, schedules) is a dry\n"
    "run: steps preview their requests instead of sending them.\n"
    "Logs go to stderr as JSON lines: one per request (\"log\":\"access\"), per execution\n"
    "and step event (\"event\") and about the server itself (\"server\": listening,\n"
    "resumes, hook and schedule problems, shutdown). --quiet: the server lines only.\n"
    "--no-sync: do not fsync history commits (faster, not crash-safe).\n"
    "Stops on SIGTERM, SIGINT or SIGHUP: drains for server.shutdown_grace (a second signal\n"
    "ends the drain); running executions resume at the next start.\n"
    "\n"
    "Exit status: 0 stopped by a signal; 2 bad usage, ferry.yaml, --listen (the address in\n"
    "use) or the data folder; 3 the history could not be written (disk full?): fix it and\n"
    "start the server again, which resumes.\n";

// Descriptors the process needs beyond its connections: LMDB, outgoing HTTP, logs.
constexpr rlim_t kSpareDescriptors = 256;

// How often the secret files of ferry.yaml are read again for redaction (a few small reads).
constexpr uint64_t kSecretRelearnMs = 1000;
// How often the reader slots of dead processes are freed (Store::clear_dead_readers): a
// pinned snapshot makes the file grow at the rate executions are written.
constexpr uint64_t kDeadReaderSweepMs = 5000;

// Each connection is a descriptor, and the usual soft limit (1024) is below what the
// default max_connections needs with the rest, so accept() would fail first. The soft limit
// is raised as far as the hard one allows (Go's servers do the same); a hard limit too low
// for max_connections is said at start rather than found under load.
void raise_descriptor_limit(size_t max_connections, engine::server::ServerLog& log) {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
    rlim_t wanted = rlim_t(max_connections) + kSpareDescriptors;
    if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < wanted) {
        rlimit raised = limit;
        raised.rlim_cur =
            limit.rlim_max == RLIM_INFINITY ? wanted : std::min(wanted, limit.rlim_max);
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
    }
    if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < wanted)
        log.warn("the open-file limit (" + std::to_string(limit.rlim_cur) +
                 ") is below server.max_connections + " + std::to_string(kSpareDescriptors) + " (" +
                 std::to_string(wanted) +
                 "): connections past it fail to be accepted; raise the hard limit "
                 "(ulimit -Hn, LimitNOFILE=) or lower server.max_connections");
}

// print() and ferry.log() of Lua outside any task, as a server line.
void log_lua_output(engine::server::ServerLog& log, std::string_view level, std::string_view text) {
    log.at(level.empty() ? "info" : level, text, {{"source", "lua"}});
}

// Execution and step events as JSON lines on stderr, beside the access log: every line
// names its execution, and the access line of the request that started it does too.
void log_event(LineLog& log, const engine::EngineEvent& e) {
    // A cancel is someone's decision, not a fault: an alert on level error (operations.md)
    // paged for every operator's cancel.
    const bool failed =
        e.type == "step.failed" || (e.type == "execution.finished" && e.status == "failed");
    const bool cancelled = e.type == "execution.finished" && e.status == "cancelled";
    JsonLogLine line("event");
    line.field("level", failed ? "error" : cancelled ? "warn" : "info");
    line.field("event", e.type);
    line.field("execution_id", e.execution_id);
    line.field("workflow", e.workflow);
    if (!e.step.empty()) {
        line.field("step", e.step);
        line.field("task", e.task);
        if (e.attempt > 0) line.field("attempt", int64_t(e.attempt));
    }
    if (!e.status.empty()) line.field("status", e.status);
    // Every event that ends something has one, 0 included (a jq sum skipped the lines).
    if (!e.type.ends_with(".started") && e.type != "execution.resumed")
        line.field("duration_ms", e.duration_ms);
    if (e.type == "step.retrying") line.field("retry_in_ms", int64_t(e.retry_in_ms));
    if (!e.message.empty()) line.field("message", e.message);
    if (e.dry_run) line.field("dry_run", true);
    log.add(line.finish());
}

struct Shutdown {
    // SIGHUP too: a terminal closing, or a habit of "reload" (ferry serve has none: it reads
    // ferry.yaml and tasks at start). Its default action killed the process undrained,
    // with no line saying why.
    uv_signal_t term{}, intr{}, hup{};
    const char* signal = "";      // the first one's name, for the log
    std::function<void()> begin;  // the first SIGTERM, SIGINT or SIGHUP: drain, up to the grace
    std::function<void()> now;    // a second one: stop draining, exit as the grace would
    bool started = false;
    bool hurried = false;
    int early = 0;  // a signal caught before begin was set (the server still starting)
};

void on_signal(uv_signal_t* h, int signum) {
    auto* s = static_cast<Shutdown*>(h->data);
    if (!s->begin) {
        if (!s->early) s->early = signum;
        return;
    }
    if (!s->started) {
        s->started = true;
        s->signal = signum == SIGHUP ? "SIGHUP" : signum == SIGINT ? "SIGINT" : "SIGTERM";
        s->begin();
    } else if (!s->hurried) {
        // Ctrl-C twice, or `kill` run twice: the default action killed the process here,
        // losing the loop's last log lines and the `stopped` line.
        s->hurried = true;
        s->now();
    }
}

// Executions another process left, taken up here: at start every interrupted one (running,
// pending) and every one waiting for a decision; while serving, those a `ferry run` leaves
// waiting (it exits once only decisions are left), so that an approval's timeout (its
// escalation) takes effect when it falls due, not at the next restart. Counts what it took
// up, by whether it waits.
struct TakenUp {
    int64_t resumed = 0, waiting = 0;
};
TakenUp take_up_executions(engine::App& app, engine::server::ServerLog& log,
                           std::initializer_list<const char*> statuses, bool at_start,
                           std::set<std::string>* refused = nullptr) {
    TakenUp taken;
    for (const char* status : statuses) {
        auto found = app.store->executions_with_status(status);
        if (!found) continue;
        const bool waiting = std::string_view(status) == "waiting";
        for (const std::string& id : found.value()) {
            if (app.engine->runs(id) || (refused && refused->count(id)) ||
                engine::is_sub_workflow_execution(*app.store, id))
                continue;
            bool elsewhere = false;
            Status s = app.engine->resume(id, [](const engine::ExecutionSummary&) {}, &elsewhere);
            if (!s) {
                // A `ferry run` beside the server is running it: normal, not an error to alert
                // on (operations.md's alert filter selects level error); said once, at start.
                if (elsewhere && at_start)
                    log.info("resume " + id + ": " + s.error().message +
                                 "; it is left to that process",
                             {{"execution_id", id}});
                else if (!elsewhere)
                    log.error("resume " + id + ": " + s.error().message, {{"execution_id", id}});
                // Tried again at the next start, not every few seconds (an error each time).
                if (!elsewhere && refused) refused->insert(id);
                continue;
            }
            log.info(std::string(!waiting  ? "resumed "
                                 : at_start ? "waiting again for a decision: "
                                            : "took up, waiting for a decision (left by the "
                                              "process that ran it): ") +
                         id,
                     {{"execution_id", id}});
            ++(waiting ? taken.waiting : taken.resumed);
        }
    }
    return taken;
}

// How often the server looks for executions a `ferry run` left waiting.
constexpr uint64_t kLeftWaitingScanMs = 5000;

}  // namespace

int serve_command(int argc, char** argv) {
    CommonOptions common;
    std::string listen;
    bool quiet = false;
    bool dry_run = false;
    for (int i = 0; i < argc; ++i) {
        std::string_view arg = argv[i];
        std::string err;
        if (take_common_option(argc, argv, i, common, err)) {
            if (!err.empty()) return usage_error("serve", err);
        } else if (arg == "-h" || arg == "--help") {
            std::fputs(kServeUsage, stdout);
            return 0;
        } else if (take_named_option(argc, argv, i, "--listen", listen, err)) {
            if (!err.empty()) return usage_error("serve", err);
        } else if (arg == "--quiet") {
            quiet = true;
        } else if (arg == "--dry-run") {
            dry_run = true;
        } else {
            return unexpected_argument("serve", arg);
        }
    }
    std::string host;
    uint16_t port = 0;
    if (!listen.empty() && !workflow::split_listen(listen, host, port))
        return usage_error("serve", "--listen must be HOST:PORT, got '" + listen + "'");
    std::vector<workflow::Diagnostic> task_problems;
    // What task files print while they load is held until the JSON log exists.
    std::vector<std::pair<std::string, std::string>> load_output;
    // The store is opened once the address is bound (below): a server refused its port, or
    // its configuration, leaves no data folder behind.
    auto app = open_app(common, false, &task_problems,
                        [&load_output](std::string_view level, std::string_view text) {
                            load_output.emplace_back(level, text);
                        });
    if (!app) return 2;
    // From here on stderr carries JSON lines only (docs/operations.md, "Logs").
    LineLog lines(app->loop, STDERR_FILENO);
    engine::server::ServerLog log(lines);
    for (const auto& [level, text] : load_output)
        log_lua_output(log, level, text);
    for (const auto& d : task_problems)
        log.warn(d.describe());
    auto settings = engine::server::read_server_settings(app->config);
    if (!settings) {
        log.error("ferry.yaml: " + settings.error().message);
        return 2;  // `lines` writes it as it goes
    }
    if (!listen.empty()) settings->listen = listen;
    settings->dry_run = dry_run;
    for (const std::string& w : settings->warnings)
        log.warn(w);
    // A form or schedule its workflow cannot take fails every submission or run: say so
    // now rather than at the first 422 (`ferry validate` fails on these).
    for (const std::string& w : config_workflow_problems(*app, app->config))
        log.warn(w);
    if (!workflow::split_listen(settings->listen, host, port)) {
        log.error("ferry.yaml: server.listen must be HOST:PORT with a port up to 65535, got '" +
                  settings->listen + "'");
        return 2;
    }

    raise_descriptor_limit(settings->max_connections, log);
    // The address first. Nothing is accepted before the loop runs, by when the API exists.
    engine::server::Api* api_ref = nullptr;
    ServerOptions so;
    so.max_body_bytes = settings->max_body;
    so.max_connections = settings->max_connections;
    so.request_timeout_ms = settings->request_timeout_ms;
    so.keep_alive_timeout_ms = settings->idle_timeout_ms;
    // One grace for everything at shutdown: requests still in flight and running executions
    // share it (they ran one after the other before, up to 10 s + the grace).
    so.shutdown_timeout_ms = settings->shutdown_grace_ms;
    so.access_log = [&api_ref, &lines, quiet](const AccessLogEntry& e) {
        ++api_ref
              ->http_requests[(e.method.empty() ? "-" : e.method) + " " + std::to_string(e.status)];
        if (quiet) return;
        JsonLogLine line("access");
        line.field("request_id", e.request_id);
        line.field("method", e.method);
        // What the client sent: a secret in a path (a hook's name, an id) stays out of logs.
        line.field("path", redact(e.path));
        line.field("status", int64_t(e.status));
        line.field("bytes", int64_t(e.bytes));
        line.field("duration_ms", e.duration_ms);
        line.field("remote", e.remote);
        for (const auto& [key, value] : e.fields)
            line.field(key, redact(value));
        lines.add(line.finish());
    };
    so.refusal_answer = [&api_ref](const ServerRequest& req, int,
                                   std::string_view message) -> std::optional<ServerResponse> {
        return api_ref ? api_ref->refusal_answer(req, message) : std::nullopt;
    };
    so.answer_before_body = [&api_ref](ServerRequest& head) -> std::optional<ServerResponse> {
        return api_ref ? api_ref->answer_before_body(head) : std::nullopt;
    };
    HttpServer server(app->loop, so, [&api_ref](ServerRequest& req, Responder res) {
        api_ref->handle(req, std::move(res));
    });
    auto bound = server.listen(host, port);
    if (!bound) {
        log.error(bound.error().message, {{"listen", settings->listen}});  // names the address
        return 2;
    }
    if (Status opened = app->open_store(); !opened) {
        log.error(opened.error().message, {{"data", app->project.data_dir()}});
        return 2;
    }
    engine::server::Api api(*app, settings.value(), log);
    api_ref = &api;
    engine::server::add_execution_routes(api);
    engine::server::add_ops_routes(api);
    engine::server::add_form_routes(api);
    engine::server::add_hook_routes(api);
    engine::server::Metrics metrics(*app, api.store_room());
    metrics.version = FERRY_VERSION;
    metrics.commit = kBuildCommit;
    app->engine->on_event([&metrics](const engine::EngineEvent& e) { metrics.on_event(e); });
    app->notifier->on_delivery(
        [&metrics](bool delivered) { metrics.count_event_delivery(delivered); });
    // --quiet leaves out the access and event lines (several per request), not the
    // server's own few, which say where it listens and what went wrong outside requests.
    if (!quiet)
        app->engine->on_event([&lines](const engine::EngineEvent& e) { log_event(lines, e); });
    // What the engine and Lua report outside any step record joins the same JSON lines; an
    // error notice may be the process's last act (the history cannot be written), so it is
    // written at once.
    app->engine->set_notice_sink(
        [&log](std::string_view level, std::string_view message, std::string_view id) {
            if (id.empty())
                log.at(level, message);
            else
                log.at(level, message, {{"execution_id", id}});
            if (level == "error") log.flush();
        });
    app->vm.untasked_output = [&log](std::string_view level, std::string_view text) {
        log_lua_output(log, level, text);
    };
    struct ForgetSinks {  // before `log` goes, on the paths that return
        engine::App& app;
        ~ForgetSinks() {
            app.engine->set_notice_sink(nullptr);
            app.vm.untasked_output = nullptr;
        }
    } forget_sinks{*app};
    engine::server::EventHub events(*app);
    app->engine->on_event([&events, &api](const engine::EngineEvent& e) {
        events.on_event(e);
        if (e.type == "execution.finished") api.execution_ended(e.execution_id);
        if (e.type == "step.waiting") api.execution_waiting(e.execution_id);
    });
    events.add_routes(api);
    engine::server::Schedules schedules(*app, dry_run, log, api.store_room());
    schedules.add_routes(api);
    api.add("GET", "/metrics", engine::server::Role::Viewer,
            [&](engine::server::Call& c) {
                engine::server::Metrics::Connections connections{server.open_connections(),
                                                                 server.connections_refused()};
                c.res.send(200,
                           metrics.render(api.http_requests, connections, api.rate_limits.limits()),
                           {{"Content-Type", "text/plain; version=0.0.4; charset=utf-8"}});
            },
            {{}, "", {}, {{200, "Prometheus text format", "text/plain; version=0.0.4", ""}}});

    // Without its lock the server could run nothing (every start and resume needs it).
    if (Status locked = app->engine->claim_data_folder(); !locked) {
        log.error(locked.error().message, {{"data", app->project.data_dir()}});
        return 2;
    }
    bool ipv6 = host.find(':') != std::string::npos;
    std::string url =
        "http://" + (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(bound.value());
    // Which binary, project and store: a host may run several servers on several stores.
    const std::string data_dir = app->project.data_dir();
    // Caught from before the line that says the server is up: a SIGTERM sent as soon as it
    // was read (a supervisor's restart, a test) took the default action, killing the
    // process undrained in the middle of its start (resumes, schedules), no line saying so.
    Shutdown shutdown;
    for (auto [h, sig] : {std::pair{&shutdown.term, SIGTERM}, std::pair{&shutdown.intr, SIGINT},
                          std::pair{&shutdown.hup, SIGHUP}}) {
        uv_signal_init(app->loop.raw(), h);
        h->data = &shutdown;
        uv_signal_start(h, on_signal, sig);
    }
    log.info("listening on " + url + " (ferry " + FERRY_VERSION + ", commit " + kBuildCommit +
                 ", project " + common.project + ", data " + data_dir + ")",
             {{"url", url},
              {"version", FERRY_VERSION},
              {"commit", kBuildCommit},
              {"project", common.project},
              {"data", data_dir}});
    log.flush();  // whoever started the server waits for this line

    // Executions a previous process left running continue here; those that were waiting
    // for a decision wait again (said so: they were not cut short).
    const TakenUp taken = take_up_executions(*app, log, {"running", "pending", "waiting"}, true);
    const int64_t resumed = taken.resumed, rewaiting = taken.waiting;
    if (resumed || rewaiting)
        log.info("resumed " + std::to_string(resumed) + " interrupted execution(s); " +
                     std::to_string(rewaiting) + " wait for a decision",
                 {{"executions_resumed", resumed}, {"executions_waiting", rewaiting}});

    // Events a killed process had not delivered (its outbox entries) are sent again.
    if (auto redelivered = app->notifier->redeliver_orphans(); !redelivered)
        log.error("event outbox: " + redelivered.error().message);
    else if (redelivered.value())
        log.info("redelivering " + std::to_string(redelivered.value()) +
                     " event(s) a stopped process had not delivered",
                 {{"events_redelivered", int64_t(redelivered.value())}});

    // A resumed execution is scheduled once its "running" record commits. Committing now,
    // before the loop serves anything, puts a step that waited for an approval back into
    // "waiting" before the first request: a decision sent right after a restart found no
    // such step for a moment (404) and was lost.
    // Without that commit the resumed executions could not go on (nor could another process
    // take them: this one holds them): stop as a crash would, as any failed commit does.
    if (Status s = app->engine->flush(); !s) app->engine->stop_on_lost_history(s.error());

    // After the resumes: a catch-up run is a new execution, not one of those.
    schedules.start();
    engine::server::HeapTrimmer heap_trimmer(engine::server::HeapTrimmer::kSlackBytes,
                                             [&app] { return app->vm.release_idle_memory(); });
    heap_trimmer.start(app->loop);
    // A `${file:}` secret rotated while the server runs is redacted within a second, not
    // from the first request that sends it (App::learn_secrets).
    std::unique_ptr<Loop::Timer> secrets_relearnt = app->loop.timer(
        kSecretRelearnMs, [&app] { app->learn_secrets(); }, kSecretRelearnMs);
    secrets_relearnt->set_background();
    std::unique_ptr<Loop::Timer> readers_swept = app->loop.timer(
        kDeadReaderSweepMs,
        [&app, &log] {
            if (size_t dead = app->store->clear_dead_readers())
                log.warn("freed the store's read slots of " + std::to_string(dead) +
                             " ferry process(es) that died while reading (a killed `ferry "
                             "executions export`?): the pages they held are reused again",
                         {{"readers_freed", int64_t(dead)}});
        },
        kDeadReaderSweepMs);
    readers_swept->set_background();
    std::set<std::string> not_taken_up;
    std::unique_ptr<Loop::Timer> left_waiting_taken_up = app->loop.timer(
        kLeftWaitingScanMs,
        [&app, &log, &not_taken_up] {
            take_up_executions(*app, log, {"waiting"}, false, &not_taken_up);
        },
        kLeftWaitingScanMs);
    left_waiting_taken_up->set_background();
    std::optional<engine::server::HistoryRetention> retention;
    if (app->config.store.keep_ms) {
        retention.emplace(*app, *app->config.store.keep_ms, log, metrics);
        retention->start();
    }

    std::unique_ptr<Loop::Timer> drain_timer, poll_timer;
    size_t events_dead_lettered = 0;
    auto stop_now = [&] {
        events_dead_lettered = app->notifier->pending();
        app->notifier->dead_letter_pending();
        (void)app->engine->flush();
        app->loop.stop();
    };
    shutdown.begin = [&] {
        // Waiting for a decision is not running: the shutdown does not wait for those.
        const auto busy = int64_t(app->engine->busy_executions());
        const auto waiting = int64_t(app->engine->active_executions()) - busy;
        log.info("shutting down (" + std::to_string(busy) + " execution(s) running, " +
                     std::to_string(waiting) + " waiting for a decision)",
                 {{"executions_running", busy},
                  {"executions_waiting", waiting},
                  {"signal", std::string(shutdown.signal)}});
        schedules.stop();
        if (retention) retention->stop();
        left_waiting_taken_up->stop();  // nothing new is taken up while draining
        events.close_all();
        const uint64_t deadline = app->loop.now_ms() + settings->shutdown_grace_ms;
        server.close([&, deadline] {
            poll_timer = app->loop.timer(
                50,
                [&, deadline] {
                    // Event deliveries in flight or waiting for a retry finish within the
                    // grace too; what is left goes to the dead-letter queue, not away.
                    bool idle =
                        app->engine->busy_executions() == 0 && app->notifier->pending() == 0;
                    if (idle || app->loop.now_ms() >= deadline) {
                        poll_timer->stop();
                        stop_now();
                    }
                },
                50);
        });
        // After close: their answers say Connection: close (RFC 9112 9.6).
        api.answer_pending();  // ?wait= callers get 202 and the status now
    };
    shutdown.now = [&] {
        log.info("second signal: stopping now, without waiting for the grace");
        if (poll_timer) poll_timer->stop();
        stop_now();
    };
    // A signal caught while the server was starting (before begin was set) counts now.
    if (shutdown.early) on_signal(&shutdown.term, shutdown.early);
    app->loop.run();
    uv_close(reinterpret_cast<uv_handle_t*>(&shutdown.term), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&shutdown.intr), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&shutdown.hup), nullptr);
    poll_timer.reset();
    const auto cut = int64_t(app->engine->busy_executions());
    const auto left = int64_t(app->engine->active_executions());
    log.info("stopped (" + std::to_string(left) +
                 " execution(s) left to resume at next start: " + std::to_string(cut) +
                 " cut short by " + (shutdown.hurried ? "a second signal, " : "the grace, ") +
                 std::to_string(left - cut) + " waiting for a decision)",
             {{"executions_left", left},
              {"executions_cut_short", cut},
              {"executions_waiting", left - cut}});
    if (events_dead_lettered)
        log.warn(std::to_string(events_dead_lettered) +
                     " event delivery(ies) had not ended: put in the dead-letter queue "
                     "('ferry dlq list'; they may have arrived, each has its webhook-id)",
                 {{"events_dead_lettered", int64_t(events_dead_lettered)}});
    app->engine->drop_owner_lock();
    log.flush();  // _Exit below runs no destructor
    // Running executions stay durable as they are; exiting without unwinding the engine is
    // what a crash would do, and resume is built for it.
    std::_Exit(0);
}

}  // namespace ferry::cli

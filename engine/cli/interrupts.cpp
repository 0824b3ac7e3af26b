#include "cli/interrupts.h"

#include "cli/common.h"

#include "core/executor.h"
#include "core/history.h"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

namespace ferry::cli {

InterruptNotice::InterruptNotice(engine::App& app, std::string command,
                                 std::vector<std::string> ids)
    : app_(app), command_(std::move(command)), ids_(std::move(ids)) {
    // SIGHUP: a closed terminal or a dropped ssh session stops the command as Ctrl-C does,
    // unless the process was started ignoring it: that is `nohup`, asking to go on.
    struct sigaction hup {};
    const bool hup_ignored = sigaction(SIGHUP, nullptr, &hup) == 0 && hup.sa_handler == SIG_IGN;
    const int signals[kSignals] = {SIGINT, SIGTERM, SIGHUP};
    for (int i = 0; i < kSignals; ++i) {
        handles_[i].owner = this;
        uv_signal_init(app_.loop.raw(), &handles_[i].signal);
        handles_[i].signal.data = &handles_[i];
        if (signals[i] == SIGHUP && hup_ignored) continue;
        uv_signal_start(&handles_[i].signal, &InterruptNotice::on_signal, signals[i]);
        uv_unref(reinterpret_cast<uv_handle_t*>(&handles_[i].signal));
    }
}

InterruptNotice::~InterruptNotice() {
    for (Handle& h : handles_) {
        uv_signal_stop(&h.signal);
        uv_close(reinterpret_cast<uv_handle_t*>(&h.signal), nullptr);
    }
    app_.loop.run();  // lets the closes complete before the handles go away
}

void InterruptNotice::on_signal(uv_signal_t* h, int sig) {
    const InterruptNotice& self = *static_cast<Handle*>(h->data)->owner;
    // Events not delivered yet would vanish with the process: dead letters instead.
    const size_t undelivered = self.app_.notifier ? self.app_.notifier->pending() : 0;
    if (self.app_.notifier) self.app_.notifier->dead_letter_pending();
    Status flushed = self.app_.engine->flush();
    if (self.before_exit_) self.before_exit_();
    // An execution that ended (the command was waiting for its event deliveries) does not
    // stop here, and needs no resume.
    std::vector<std::string> stopping;
    for (const std::string& id : self.ids_)
        if (!engine::execution_ended(engine::stored_status(*self.app_.store, id)))
            stopping.push_back(id);
    const char* name = sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "SIGHUP";
    const char* unwritten = flushed ? "" : " (the last records could not be written)";
    // On a terminal the line starts below the echoed ^C; elsewhere it is a line among the
    // others.
    const char* newline = ::isatty(STDERR_FILENO) ? "\n" : "";
    if (stopping.empty() && self.named_) {
        eprintf("%sferry %s: interrupted (%s) after its executions ended%s%s\n", newline,
                self.command_.c_str(), name, unwritten,
                undelivered ? ": their undelivered events are in the dead-letter queue "
                              "('ferry dlq list')"
                            : "");
    } else {
        std::string which, how;
        if (stopping.size() == 1) {
            which = "execution " + stopping.front() + " stops";
            how = "`ferry resume " + stopping.front() + "` continues it";
        } else {
            which = (stopping.empty() ? std::string("its") : std::to_string(stopping.size())) +
                    " executions stop";
            how = "`ferry resume` continues them";
        }
        eprintf("%sferry %s: interrupted (%s): %s here%s; %s (finished steps do not run "
                "again)\n",
                newline, self.command_.c_str(), name, which.c_str(), unwritten, how.c_str());
    }
    std::fflush(stderr);
    std::fflush(stdout);
    // Running coroutines and the writer thread are not unwound: as after a crash, the
    // records on disk are what resume reads.
    std::_Exit(128 + sig);
}

}  // namespace ferry::cli

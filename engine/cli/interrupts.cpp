#include "cli/interrupts.h"

#include "core/executor.h"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

namespace ferry::cli {

InterruptNotice::InterruptNotice(engine::App& app, std::string command,
                                 std::vector<std::string> ids)
    : app_(app), command_(std::move(command)), ids_(std::move(ids)) {
    // SIGHUP: a closed terminal or a dropped ssh session stops the command as Ctrl-C does.
    const int signals[kSignals] = {SIGINT, SIGTERM, SIGHUP};
    for (int i = 0; i < kSignals; ++i) {
        handles_[i].owner = this;
        uv_signal_init(app_.loop.raw(), &handles_[i].signal);
        handles_[i].signal.data = &handles_[i];
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
    if (self.app_.notifier) self.app_.notifier->dead_letter_pending();
    Status flushed = self.app_.engine->flush();
    if (self.before_exit_) self.before_exit_();
    std::string which, how;
    if (self.ids_.size() == 1) {
        which = "execution " + self.ids_.front() + " stops";
        how = "`ferry resume " + self.ids_.front() + "` continues it";
    } else {
        which = (self.ids_.empty() ? std::string("its") : std::to_string(self.ids_.size())) +
                " executions stop";
        how = "`ferry resume` continues them";
    }
    // On a terminal the line starts below the echoed ^C; elsewhere it is a line among the
    // others.
    std::fprintf(stderr,
                 "%sferry %s: interrupted (%s): %s here%s; %s (finished steps do not run "
                 "again)\n",
                 ::isatty(STDERR_FILENO) ? "\n" : "", self.command_.c_str(),
                 sig == SIGINT    ? "SIGINT"
                 : sig == SIGTERM ? "SIGTERM"
                                  : "SIGHUP",
                 which.c_str(), flushed ? "" : " (the last records could not be written)",
                 how.c_str());
    std::fflush(stderr);
    std::fflush(stdout);
    // Running coroutines and the writer thread are not unwound: as after a crash, the
    // records on disk are what resume reads.
    std::_Exit(128 + sig);
}

}  // namespace ferry::cli

// Ctrl-C, SIGTERM and SIGHUP while a command runs executions (`ferry run`, `ferry resume`,
// `ferry executions approve|reject|cancel`).
#pragma once

#include "core/app.h"

#include <functional>
#include <string>
#include <vector>

#include <uv.h>

namespace ferry::cli {

// While it lives, SIGINT, SIGTERM and SIGHUP end the process as a crash would (the history is
// durable and resume reads it), after a flush and a line saying which executions stop and
// how to go on; exit status 128 + the signal. The handlers replace a disposition the
// process inherited ignored (a command started with `&` from a script ignores SIGINT, and
// went on sending after `kill -INT`). Unreferenced: they do not keep the loop running.
class InterruptNotice {
  public:
    // command: "run", "resume", "executions approve", ...; ids: the executions it runs (may grow:
    // add()).
    InterruptNotice(engine::App& app, std::string command, std::vector<std::string> ids = {});
    ~InterruptNotice();  // closes the handles (runs the loop until they are closed)
    InterruptNotice(const InterruptNotice&) = delete;
    InterruptNotice& operator=(const InterruptNotice&) = delete;

    void add(const std::string& id) {
        ids_.push_back(id);
        named_ = true;
    }
    // An execution that ended: it is not among those that stop.
    void finished(const std::string& id) { std::erase(ids_, id); }
    // Runs after the flush, before the line and the exit (what the command prints of the
    // executions that ended: the interrupt does not lose it).
    void before_exit(std::function<void()> f) { before_exit_ = std::move(f); }

  private:
    struct Handle {
        uv_signal_t signal{};
        InterruptNotice* owner = nullptr;
    };
    static void on_signal(uv_signal_t* h, int sig);

    engine::App& app_;
    std::string command_;
    std::vector<std::string> ids_;
    bool named_ = !ids_.empty();  // executions were named (some may have ended since)
    std::function<void()> before_exit_;
    static constexpr int kSignals = 3;
    Handle handles_[kSignals];
};

}  // namespace ferry::cli

// Catch2 v2 needs its main() defined in exactly one translation unit.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <execinfo.h>
#include <pthread.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

// A unit test that hangs used to wait silently for CTest's timeout (300 s) and leave no
// trace of where it stopped (Catch2 prints at the end). This watchdog names the test and
// prints the stack of the thread running it, then aborts, after FERRY_TEST_HANG_S seconds
// (default 150; 0 turns it off). The addresses resolve with `addr2line -f -C -e BINARY`.
namespace {

pthread_t g_test_thread;

extern "C" void print_stack_and_abort(int) {
    void* frames[64];
    int n = backtrace(frames, 64);
    static const char head[] = "ferry test watchdog: the hung test's stack:\n";
    (void)!write(STDERR_FILENO, head, sizeof head - 1);
    backtrace_symbols_fd(frames, n, STDERR_FILENO);
    std::abort();
}

class HangWatchdog : public Catch::TestEventListenerBase {
  public:
    using TestEventListenerBase::TestEventListenerBase;

    void testRunStarting(Catch::TestRunInfo const&) override {
        const char* env = std::getenv("FERRY_TEST_HANG_S");
        limit_ = std::chrono::seconds(env ? std::atoi(env) : kDefaultLimitSeconds);
        if (limit_.count() <= 0) return;
        void* warm[1];
        backtrace(warm, 1);  // loads libgcc now: the signal handler must not
        g_test_thread = pthread_self();
        std::signal(SIGUSR2, print_stack_and_abort);
        thread_ = std::thread([this] { watch(); });
    }
    void testRunEnded(Catch::TestRunStats const&) override {
        if (!thread_.joinable()) return;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            over_ = true;
        }
        changed_.notify_all();
        thread_.join();
    }
    void testCaseStarting(Catch::TestCaseInfo const& info) override {
        std::lock_guard<std::mutex> lock(mutex_);
        name_ = info.name;
        ++generation_;
        changed_.notify_all();
    }

  private:
    // A sanitizer build runs the heaviest cases (64 MiB strings built by every filter) 3-4
    // times slower: 80 s alone for one that takes 20, past 150 with the cores shared.
#ifdef __SANITIZE_ADDRESS__
    static constexpr int kDefaultLimitSeconds = 600;
#else
    static constexpr int kDefaultLimitSeconds = 150;
#endif

    void watch() {
        std::unique_lock<std::mutex> lock(mutex_);
        while (!over_) {
            uint64_t seen = generation_;
            if (changed_.wait_for(lock, limit_, [&] { return over_ || generation_ != seen; }))
                continue;
            std::fprintf(stderr, "ferry test watchdog: '%s' has run for %lld s: aborting\n",
                         name_.c_str(), static_cast<long long>(limit_.count()));
            std::fflush(stderr);
            pthread_kill(g_test_thread, SIGUSR2);
            return;
        }
    }

    std::chrono::seconds limit_{0};
    std::thread thread_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::string name_;
    uint64_t generation_ = 0;
    bool over_ = false;
};

}  // namespace

CATCH_REGISTER_LISTENER(HangWatchdog)

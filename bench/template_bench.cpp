// Renders one template many times (parsed once, context built once, as a server would) and
// reports renders per second and heap allocations per render.
//
//   template_bench TEMPLATE VARS.json [SECONDS]
//
// Prints one JSON object: {"renders": N, "seconds": S, "renders_per_second": R,
// "allocations_per_render": A, "bytes": B}.
#include "template/environment.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <new>
#include <sstream>

namespace {
std::atomic<uint64_t> g_allocations{0};
}

void* operator new(std::size_t n) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: template_bench TEMPLATE VARS.json [SECONDS]\n");
        return 2;
    }
    std::string path = argv[1];
    double seconds = argc > 3 ? std::atof(argv[3]) : 3.0;
    std::ifstream in(argv[2]);
    std::stringstream json;
    json << in.rdbuf();
    using namespace ferry::tmpl;
    Value vars = value_from_json(json.str());
    size_t slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
    std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    Environment env(std::make_shared<FileSystemLoader>(std::vector<std::string>{dir}));
    auto tmpl = env.get_template(name);
    std::string first = env.render_or_throw(*tmpl, vars);  // warm the include/import cache

    uint64_t renders = 0;
    uint64_t allocs_before = g_allocations.load();
    auto start = std::chrono::steady_clock::now();
    auto deadline = start + std::chrono::duration<double>(seconds);
    size_t bytes = 0;
    while (std::chrono::steady_clock::now() < deadline) {
        for (int i = 0; i < 100; ++i)
            bytes = env.render_or_throw(*tmpl, vars).size();
        renders += 100;
    }
    double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    uint64_t allocs = g_allocations.load() - allocs_before;
    std::printf("{\"renders\": %llu, \"seconds\": %.3f, \"renders_per_second\": %.0f, "
                "\"allocations_per_render\": %.1f, \"bytes\": %zu}\n",
                static_cast<unsigned long long>(renders), elapsed, double(renders) / elapsed,
                double(allocs) / double(renders), bytes);
    return first.size() == bytes ? 0 : 1;
}

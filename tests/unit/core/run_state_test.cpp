// engine/core/run_state: StepBits, the set of steps the scheduler looks at again.
#include "core/run_state.h"

#include <catch2/catch.hpp>

#include <vector>

using ferry::engine::StepBits;

namespace {

// Every index next() visits from 0, stopping at n as the scheduler does.
std::vector<size_t> visited(const StepBits& bits, size_t n) {
    std::vector<size_t> out;
    for (size_t i = bits.next(0); i < n; i = bits.next(i + 1))
        out.push_back(i);
    return out;
}

}  // namespace

TEST_CASE("StepBits: filled, then emptied and refilled one by one, in step order", "[run_state]") {
    for (size_t n : {1, 3, 63, 64, 65, 130, 200}) {
        INFO("n = " << n);
        StepBits bits;
        bits.fill(n);
        std::vector<size_t> all(n);
        for (size_t i = 0; i < n; ++i)
            all[i] = i;
        CHECK(visited(bits, n) == all);
        for (size_t i = 0; i < n; ++i)
            bits.remove(i);
        CHECK(visited(bits, n).empty());
        CHECK(bits.next(0) >= n);  // past the steps: a bit fill() set, or none at all
        // Across the inline word and the others, first and last of each word.
        std::vector<size_t> some;
        for (size_t i : {size_t(0), size_t(63), size_t(64), size_t(127), size_t(128), n - 1})
            if (i < n && (some.empty() || some.back() < i)) some.push_back(i);
        for (size_t i : some)
            bits.add(i);
        CHECK(visited(bits, n) == some);
        bits.add_all();
        CHECK(visited(bits, n) == all);
    }
}

TEST_CASE("StepBits: a step added behind the one visited waits for the next pass", "[run_state]") {
    StepBits bits;
    bits.fill(100);
    for (size_t i = 0; i < 100; ++i)
        bits.remove(i);
    bits.add(10);
    bits.add(70);
    size_t i = bits.next(0);
    REQUIRE(i == 10);
    bits.remove(i);
    bits.add(5);   // behind: not in this pass
    bits.add(90);  // ahead: in this pass
    CHECK(bits.next(i + 1) == 70);
    CHECK(bits.next(71) == 90);
    CHECK(bits.next(91) >= 100);  // none left among the steps
    CHECK(bits.next(0) == 5);
}

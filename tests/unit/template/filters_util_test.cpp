// engine/template/filters_util: the helpers the filters and str methods share.
#include "template/filters_util.h"

#include <catch2/catch.hpp>

#include <random>

using ferry::tmpl::filter_impl::TextSearch;

TEST_CASE("TextSearch finds what std::u32string_view::find finds, both ways", "[util]") {
    // Two letters make long partial matches (the KMP tables' work) common.
    std::mt19937 rng(20261204);
    auto text = [&](size_t n) {
        std::u32string s;
        for (size_t i = 0; i < n; ++i)
            s += rng() % 4 ? U'a' : U'b';
        return s;
    };
    for (int round = 0; round < 2000; ++round) {
        std::u32string hay = text(rng() % 200);
        std::u32string needle = text(1 + rng() % 40);
        if (round % 3 == 0 && hay.size() > needle.size())  // plant one
            hay.replace(rng() % (hay.size() - needle.size()), needle.size(), needle);
        std::u32string_view h(hay);
        TextSearch search(needle);
        size_t from = hay.empty() ? 0 : rng() % (hay.size() + 2);
        size_t end = hay.empty() ? 0 : rng() % (hay.size() + 2);
        INFO("round " << round << " needle " << needle.size() << " hay " << hay.size());
        CHECK(search.find(h, from) == (from > h.size() ? h.npos : h.find(needle, from)));
        CHECK(search.rfind(h, end) == h.substr(0, std::min(end, h.size())).rfind(needle));
        CHECK(search.rfind(h) == h.rfind(needle));
    }
}

// The case that made str.find take seconds (a plain search, and libstdc++'s Boyer-Moore
// table, are quadratic in it): answered at once, and right.
TEST_CASE("TextSearch on a needle that almost matches everywhere", "[util]") {
    std::u32string hay(200000, U'a'), needle(100000, U'a');
    needle += U'b';
    TextSearch search(needle);
    CHECK(search.find(hay) == std::u32string_view::npos);
    CHECK(search.rfind(hay) == std::u32string_view::npos);
    std::u32string planted = hay + needle + hay;
    CHECK(search.find(planted) == 200000);
    CHECK(search.rfind(planted) == 200000);
}

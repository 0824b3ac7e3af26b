// The template values' containers (value.cpp): DictObj keeps Python's insertion order and
// key equality whether it scans (small) or goes through its hash index (past kScanLimit).
#include "template/environment.h"
#include "template/value.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <string>

using namespace ferry::tmpl;

namespace {

Value S(const std::string& s) {
    return Value::string(s);
}

std::string key(int i) {
    return "k" + std::to_string(i);
}

// A dict of n string keys k0..k{n-1} mapped to their number, built with set().
Ref<DictObj> numbered(int n) {
    auto d = make_ref<DictObj>();
    for (int i = 0; i < n; ++i)
        d->set(S(key(i)), Value::integer(i));
    return d;
}

// Every key found at its number, and an absent one not found: the same answers either way.
void check_numbered(const DictObj& d, int n) {
    REQUIRE(d.size() == size_t(n));
    for (int i = 0; i < n; ++i) {
        const Value* v = d.find(key(i));
        REQUIRE(v);
        CHECK(v->as_int() == i);
        CHECK(d.items()[size_t(i)].first.str() == key(i));
    }
    CHECK_FALSE(d.find("absent"));
}

}  // namespace

TEST_CASE("a dict answers the same below and past the scan limit", "[template][value]") {
    for (int n : {0, 1, int(DictObj::kScanLimit), int(DictObj::kScanLimit) + 1, 1000}) {
        INFO("n = " << n);
        auto d = numbered(n);
        check_numbered(*d, n);
        // Setting an existing key keeps its place.
        if (n > 0) {
            d->set(S(key(0)), S("again"));
            CHECK(d->items().front().second.str() == "again");
            CHECK(d->size() == size_t(n));
        }
    }
}

TEST_CASE("a dict's index follows appends, erases, pops and replacement", "[template][value]") {
    const int n = 100;
    auto d = numbered(n);
    REQUIRE(d->find(key(5)));  // the first lookup past the limit builds the index

    // Appended after the index was built: found, and set() does not add it twice.
    d->append_new(S("late"), Value::integer(-1));
    d->set(S("later"), Value::integer(-2));
    d->set(S("late"), Value::integer(-3));
    CHECK(d->size() == size_t(n + 2));
    CHECK(d->find("late")->as_int() == -3);
    CHECK(d->find("later")->as_int() == -2);

    // An erase moves every later entry down one place.
    CHECK(d->erase(S(key(10))));
    CHECK_FALSE(d->erase(S(key(10))));
    CHECK_FALSE(d->find(key(10)));
    CHECK(d->find(key(11))->as_int() == 11);
    CHECK(d->find("later")->as_int() == -2);

    // popitem takes the last entry; the rest stay found.
    auto [k, v] = d->pop_last();
    CHECK(k.str() == "later");
    CHECK(v.as_int() == -2);
    CHECK_FALSE(d->find("later"));
    CHECK(d->find("late")->as_int() == -3);
    d->set(S("later"), Value::integer(7));  // back, at the end
    CHECK(d->items().back().first.str() == "later");
    CHECK(d->find("later")->as_int() == 7);

    // Replaced wholesale: only the new keys are found.
    DictObj::Items fresh;
    for (int i = 0; i < n; ++i)
        fresh.emplace_back(S("x" + std::to_string(i)), Value::integer(i));
    d->assign(std::move(fresh));
    CHECK_FALSE(d->find(key(1)));
    CHECK(d->find("x99")->as_int() == 99);

    DictObj::Items taken = d->release();
    CHECK(taken.size() == size_t(n));
    CHECK(d->empty());
    CHECK_FALSE(d->find("x1"));
    d->assign(std::move(taken));
    d->clear();
    CHECK_FALSE(d->find("x1"));
}

TEST_CASE("a dict matches keys by Python equality, past the scan limit too", "[template][value]") {
    auto d = numbered(int(DictObj::kScanLimit) * 2);
    d->set(Value::integer(1), S("one"));
    d->set(Value::floating(1.0), S("one again"));  // 1 == 1.0: the same key
    d->set(Value::boolean(true), S("true"));       // True == 1 as well
    CHECK(d->size() == DictObj::kScanLimit * 2 + 1);
    CHECK(d->find(Value::integer(1))->str() == "true");
    CHECK(d->find(S("1")) == nullptr);  // "1" != 1
    CHECK(d->find(S(key(3)))->as_int() == 3);
    CHECK(d->erase(Value::floating(1.0)));
    CHECK_FALSE(d->find(Value::integer(1)));
    CHECK(d->find(key(63))->as_int() == 63);
}

TEST_CASE("looking up each member of a wide dict takes linear time", "[template][value]") {
    // Lookups scanned: `{% for k in d %}{{ d[k] }}{% endfor %}` over a 40,000-member hook
    // body took 2.5 s in a release build (3 ns a comparison). Here the scan would make 180
    // billion comparisons, about nine minutes, past the suite's 300 s timeout; through the
    // index the lookups take well under a second even unoptimised.
    const int n = 600'000;
    std::string json = "{";
    for (int i = 0; i < n; ++i)
        json += (i ? ",\"" : "\"") + key(i) + "\":" + std::to_string(i);
    json += "}";
    Value v = value_from_json(json);
    REQUIRE(v.is_dict());
    long long sum = 0;
    for (const auto& [k, value] : v.dict_obj().items())
        sum += v.dict_obj().find(k)->as_int();
    CHECK(sum == (long long)n * (n - 1) / 2);
}

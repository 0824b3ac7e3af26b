// engine/core/values: json_shaped gives a Value the shape a trip through JSON gives it.
#include "core/values.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>

using namespace ferry::engine;
using ferry::tmpl::Kind;

TEST_CASE("json_shaped: JSON-like values come back as they are, shared", "[values]") {
    Value v = dict_of({{"a", Value::integer(1)},
                       {"b", Value::floating(2.5)},
                       {"list", Value::list()},
                       {"nested", dict_of({{"s", str("text")}, {"n", Value::none()}})}});
    Value shaped = json_shaped(v, 200);
    CHECK(&shaped.dict_obj() == &v.dict_obj());  // nothing to change: not copied
    CHECK(to_json_text(shaped) == R"({"a":1,"b":2.5,"list":[],"nested":{"s":"text","n":null}})");
}

TEST_CASE("json_shaped: what JSON cannot hold becomes what JSON would make of it", "[values]") {
    Value tuple = Value::tuple({Value::integer(1), Value::undefined()});
    Value keys = Value::dict();
    keys.dict_obj().set(Value::integer(7), str("seven"));
    keys.dict_obj().set(str("ok"), Value::floating(std::nan("")));
    Value v = dict_of({{"keep", str("same")},
                       {"tuple", tuple},
                       {"safe", Value::string("<b>", true)},
                       {"keys", keys},
                       {"deep", dict_of({{"x", dict_of({{"y", Value::integer(1)}})}})}});
    Value shaped = json_shaped(v, 2);  // containers at depth 2 and deeper: null, as push_value does
    CHECK(
        to_json_text(shaped) ==
        R"({"keep":"same","tuple":[1,null],"safe":"<b>","keys":{"7":"seven","ok":null},"deep":{"x":null}})");
    const Value* t = dict_get(shaped, "tuple");
    REQUIRE(t);
    CHECK(t->kind() == Kind::List);
    CHECK_FALSE(dict_get(shaped, "safe")->is_safe());
    CHECK(dict_get(*dict_get(shaped, "keys"), "7"));
    // The original is untouched.
    CHECK(dict_get(v, "tuple")->kind() == Kind::Tuple);
    CHECK(dict_get(v, "safe")->is_safe());
}

TEST_CASE("credential_headers_redacted: credential headers hidden, whatever their case",
          "[values]") {
    Value headers = dict_of({{"authorization", str("Bearer abc123456")},
                             {"X-Api-Key", str("k-9876543210")},
                             {"Accept", str("application/json")}});
    std::optional<Value> hidden = credential_headers_redacted(headers);
    REQUIRE(hidden);
    CHECK(to_json_text(*hidden) ==
          R"({"authorization":"[REDACTED]","X-Api-Key":"[REDACTED]","Accept":"application/json"})");
    CHECK(credential_header_redacted(*hidden));
    CHECK_FALSE(credential_header_redacted(headers));
    // Nothing to hide: no copy, and what is hidden already is not hidden again.
    CHECK_FALSE(credential_headers_redacted(dict_of({{"Accept", str("text/plain")}})));
    CHECK_FALSE(credential_headers_redacted(*hidden));
    CHECK_FALSE(credential_headers_redacted(str("Authorization: x")));
}

TEST_CASE("json_fit: a value is measured as its JSON text, each reference of a shared list",
          "[values]") {
    CHECK(json_fit(dict_of({{"a", str("text")}, {"b", Value::integer(12)}}), 1000) ==
          JsonFit::fits);
    CHECK(json_fit(str(std::string(100, 'x')), 50) == JsonFit::too_large);
    CHECK(json_fit(Value::list({Value::integer(1), Value::floating(INFINITY)}), 1000) ==
          JsonFit::non_finite);
    // [[[1] * 100] * 1000] * 1000: three small lists, 10^8 values as JSON. The walk stops
    // once past the bound, long before it has seen them all.
    Value inner = Value::list(std::vector<Value>(100, Value::integer(1)));
    Value middle = Value::list(std::vector<Value>(1000, inner));
    Value outer = Value::list(std::vector<Value>(1000, middle));
    auto started = std::chrono::steady_clock::now();
    CHECK(json_fit(outer, uint64_t(1) << 20) == JsonFit::too_large);
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(2));
    CHECK(json_fit(middle, uint64_t(8) << 20) == JsonFit::fits);
    // Keys count too.
    Value keyed = Value::dict();
    keyed.dict_obj().set(str(std::string(100, 'k')), Value::none());
    CHECK(json_fit(keyed, 50) == JsonFit::too_large);
}

TEST_CASE("json_fit: strings are counted escaped and numbers at their digits", "[values]") {
    // A control character is six bytes of JSON (\u0001): counted as one, a 16 MB output
    // was recorded as 96 MB.
    Value control = str(std::string(1000, '\x01'));
    CHECK(json_fit(control, 6002) == JsonFit::fits);
    CHECK(json_fit(control, 5000) == JsonFit::too_large);
    CHECK(json_fit(str("a\"b\\c\n"), 11) == JsonFit::fits);
    CHECK(json_fit(str("a\"b\\c\n"), 10) == JsonFit::too_large);
    // A million zeros are two megabytes of JSON ("0," each), not twenty.
    Value zeros = Value::list(std::vector<Value>(1'000'000, Value::integer(0)));
    CHECK(json_fit(zeros, 2'000'010) == JsonFit::fits);
    CHECK(json_fit(zeros, 1'900'000) == JsonFit::too_large);
    CHECK(json_fit(Value::list({Value::floating(0.5), Value::integer(-12345)}), 14) ==
          JsonFit::fits);
}

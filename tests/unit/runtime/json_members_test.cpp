// Top-level members of a JSON object's text found where they lie, without a document.
#include "runtime/json_members.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace ferry;

TEST_CASE("json members: each value's text as it lies, nested values whole", "[json]") {
    const std::string text =
        R"( {"id":"E1", "n" : -12.50e1 ,"o":{"a":[1,{"b":"}]"}],"c":null},"l":[[],{}],)"
        R"("t":true,"s":"q\"uote}","e":{}} )";
    auto members = json_members(text);
    REQUIRE(members);
    REQUIRE(members->size() == 7);
    CHECK((*members)[0] == std::pair<std::string, std::string_view>{"id", R"("E1")"});
    CHECK((*members)[1].second == "-12.50e1");  // the number's text, not a rewritten one
    CHECK((*members)[2].second == R"({"a":[1,{"b":"}]"}],"c":null})");
    CHECK((*members)[3].second == "[[],{}]");
    CHECK((*members)[4].second == "true");
    CHECK((*members)[5].second == R"("q\"uote}")");
    CHECK((*members)[6].second == "{}");
    REQUIRE(json_member(*members, "o"));
    CHECK(*json_member(*members, "t") == "true");
    CHECK_FALSE(json_member(*members, "a"));  // a nested key is not a member
}

TEST_CASE("json members: keys unescaped, a repeated key kept twice, the first found", "[json]") {
    const std::string text = R"({"k\u00e9y":1,"x":1,"x":2})";
    auto members = json_members(text);
    REQUIRE(members);
    REQUIRE(members->size() == 3);
    CHECK((*members)[0].first == "k\xc3\xa9y");
    CHECK(*json_member(*members, "x") == "1");
}

TEST_CASE("json members: anything but one JSON object is refused", "[json]") {
    using namespace std::string_literals;
    for (const std::string& text : std::vector<std::string>{
             "", "  ", "[1]", "null", "\"s\"", "{", R"({"a":1,})", R"({"a":1} {})", R"({"a":})",
             R"({"a":1}x)", "{\"a\":\"x\0y\"}"s, "{\"a\":1}\0"s})
        CHECK_FALSE(json_members(text));
    const std::string braces = "{}";
    auto empty = json_members(braces);
    REQUIRE(empty);
    CHECK(empty->empty());
}

TEST_CASE("json members: deep nesting does not reach the C++ stack", "[json]") {
    std::string deep =
        R"({"d":)" + std::string(100000, '[') + std::string(100000, ']') + R"(,"after":2})";
    auto members = json_members(deep);
    REQUIRE(members);
    REQUIRE(members->size() == 2);
    CHECK(members->at(0).second.size() == 200000);
    CHECK(*json_member(*members, "after") == "2");
}

TEST_CASE("json members: an object of chosen members, in the order asked, as they lie", "[json]") {
    const std::string text = R"({"b":[1, 2],"a":"x","c":null,"a":"second"})";
    auto members = json_members(text);
    REQUIRE(members);
    static constexpr const char* kKeys[] = {"a", "missing", "b"};
    CHECK(json_object_of(*members, kKeys) == R"({"a":"x","b":[1, 2]})");
    static constexpr const char* kNone[] = {"z"};
    CHECK(json_object_of(*members, kNone) == "{}");
}

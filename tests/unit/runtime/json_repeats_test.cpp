// Repeated keys found in the same pass that builds the document, with their places.
#include "runtime/json_repeats.h"

#include <catch2/catch.hpp>

using namespace ferry;

namespace {

constexpr unsigned kFlags = rapidjson::kParseIterativeFlag;

JsonParse parse(std::string_view text, rapidjson::Document& doc) {
    return parse_json_noting_repeats<kFlags>(doc, text);
}

}  // namespace

TEST_CASE("json repeats: none in distinct keys, equal keys in different objects", "[json]") {
    rapidjson::Document doc;
    JsonParse p = parse(R"({"a": 1, "b": {"a": 2}, "c": [{"a": 3}, {"a": 4}]})", doc);
    CHECK_FALSE(p.syntax.IsError());
    CHECK_FALSE(p.repeated);
    REQUIRE(doc.IsObject());
    CHECK(doc["c"][1]["a"].GetInt() == 4);  // the document is built as Parse builds it
}

TEST_CASE("json repeats: the first repeat in the text, with both places", "[json]") {
    rapidjson::Document doc;
    // The inner object closes first, but the outer repeat comes earlier in the text.
    std::string_view text = R"({"x": 1, "x": 2, "y": {"z": 1, "z": 2}})";
    JsonParse p = parse(text, doc);
    REQUIRE(p.repeated);
    CHECK(p.repeated->key == "x");
    CHECK(p.repeated->first_offset == text.find("\"x\""));
    CHECK(p.repeated->repeat_offset == text.find("\"x\"", 2));
}

TEST_CASE("json repeats: a third occurrence still names the first two", "[json]") {
    rapidjson::Document doc;
    std::string_view text = R"({"k": 1, "k": 2, "k": 3})";
    JsonParse p = parse(text, doc);
    REQUIRE(p.repeated);
    CHECK(p.repeated->first_offset == 1);
    CHECK(p.repeated->repeat_offset == 9);
}

TEST_CASE("json repeats: keys compare unescaped, and places skip escaped quotes", "[json]") {
    rapidjson::Document doc;
    std::string_view text = R"({"q\"\\": 1, "q\u0022\\": 2})";
    JsonParse p = parse(text, doc);
    REQUIRE(p.repeated);
    CHECK(p.repeated->key == "q\"\\");
    CHECK(p.repeated->first_offset == 1);
    CHECK(p.repeated->repeat_offset == text.find("\"q\\u"));
}

TEST_CASE("json repeats: a syntax error is reported, not a repeat before it", "[json]") {
    rapidjson::Document doc;
    JsonParse p = parse("{\"a\": 1, \"a\": 2,\n \"b\": }", doc);
    CHECK(p.syntax.IsError());
    CHECK(p.syntax.Offset() == 23);
    CHECK_FALSE(p.repeated);
    CHECK(position_at("{\"a\": 1, \"a\": 2,\n \"b\": }", 23).line == 2);
    CHECK(position_at("{\"a\": 1, \"a\": 2,\n \"b\": }", 23).column == 7);
    // Bytes, and from after a byte order mark (as YAML and Lua files count).
    CHECK(position_at("{\"a\": ", 6).column == 7);
    CHECK(position_at("\xEF\xBB\xBF{\"a\": ", 9).column == 7);
    CHECK(position_at("{\"\xC3\xA9\": x", 7).column == 8);
}

TEST_CASE("json repeats: text after a NUL byte is no longer the end of the text", "[json]") {
    // RapidJSON's streams say '\0' at their end, so {"a":1}\0garbage passed as {"a":1}.
    rapidjson::Document doc;
    const std::string text("{\"a\": 1}\0garbage", 16);
    JsonParse p = parse(text, doc);
    CHECK(p.syntax.IsError());
    CHECK(p.syntax.Code() == rapidjson::kParseErrorDocumentRootNotSingular);
    CHECK(p.syntax.Offset() == 8);
    CHECK(doc.IsNull());
    CHECK_FALSE(parse(std::string("{\"a\": 1}\n", 9), doc).syntax.IsError());
}

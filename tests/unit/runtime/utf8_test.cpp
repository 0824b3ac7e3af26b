// runtime/utf8: well-formedness, repair, and the one surrogate escape RapidJSON lets by.
#include "runtime/utf8.h"

#include <catch2/catch.hpp>

using namespace ferry;

TEST_CASE("utf8: invalid bytes are found and shown as U+FFFD", "[utf8]") {
    CHECK(invalid_utf8_at("plain ascii") == std::string_view::npos);
    CHECK(invalid_utf8_at("caf\xC3\xA9") == std::string_view::npos);
    CHECK(invalid_utf8_at("OPS-1\xC3(") == 5);
    CHECK(invalid_utf8_at("\xED\xB0\x80") == 0);  // an encoded surrogate
    CHECK(to_valid_utf8("OPS-1\xC3(") == "OPS-1\xEF\xBF\xBD(");
    CHECK(to_valid_utf8("a\xFF\xFE") == "a\xEF\xBF\xBD\xEF\xBF\xBD");
    CHECK(to_valid_utf8("caf\xC3\xA9") == "caf\xC3\xA9");
    // A multi-byte character cut by a size cap.
    CHECK(to_valid_utf8("ab\xE2\x82") == "ab\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST_CASE("utf8: long text is checked at every offset, ASCII runs and all", "[utf8]") {
    // ASCII is skipped eight bytes at a time: a bad byte, a valid character or a cut one must
    // be found wherever it falls against those words, and at the very end.
    for (size_t before = 0; before < 20; ++before) {
        for (size_t after = 0; after < 10; ++after) {
            const std::string head(before, 'a'), tail(after, 'z');
            INFO("before " << before << ", after " << after);
            CHECK(invalid_utf8_at(head + tail) == std::string_view::npos);
            CHECK(invalid_utf8_at(head + "\xC3\xA9" + tail) == std::string_view::npos);
            CHECK(invalid_utf8_at(head + "\xF0\x9F\x98\x80" + tail) == std::string_view::npos);
            CHECK(invalid_utf8_at(head + "\xFF" + tail) == before);
            CHECK(invalid_utf8_at(head + "\xE2\x28\xA1" + tail) == before);  // bad second byte
            CHECK(invalid_utf8_at(head + "\xC3\xA9" + tail + "\x80") == before + 2 + after);
        }
        CHECK(invalid_utf8_at(std::string(before, 'a') + "\xE2\x82") == before);  // cut at the end
    }
}

TEST_CASE("utf8: a lone low surrogate escape in JSON text is found", "[utf8]") {
    CHECK(lone_low_surrogate_escape_at(R"("\udc00x")") == 1);
    CHECK(lone_low_surrogate_escape_at(R"({"a": "ok", "b": "\uDFFF"})") == 18);
    CHECK(lone_low_surrogate_escape_at(R"("\ud83d\ude00")") == std::string_view::npos);  // a pair
    CHECK(lone_low_surrogate_escape_at(R"("\\udc00")") == std::string_view::npos);  // text "\udc00"
    CHECK(lone_low_surrogate_escape_at(R"("\\\udc00")") == 3);  // a backslash, then the escape
    CHECK(lone_low_surrogate_escape_at(R"("\u00e9 \ud7ff")") == std::string_view::npos);
    CHECK(lone_low_surrogate_escape_at(R"("\udc0)") == std::string_view::npos);  // cut short
}

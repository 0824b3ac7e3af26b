// runtime/json_writer: JsonWriter must write exactly what rapidjson::Writer writes.
#include "runtime/json_writer.h"

#include <catch2/catch.hpp>
#include <rapidjson/document.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace {

template <class W>
std::string write_with(const std::vector<std::string>& strings) {
    rapidjson::StringBuffer buf;
    W w(buf);
    w.StartObject();
    for (size_t i = 0; i < strings.size(); ++i) {
        w.Key(strings[i].data(), rapidjson::SizeType(strings[i].size()));
        w.StartArray();
        w.String(strings[i].data(), rapidjson::SizeType(strings[i].size()));
        w.Int(int(i));
        w.EndArray();
    }
    w.EndObject();
    return std::string(buf.GetString(), buf.GetSize());
}

void check_same(const std::vector<std::string>& strings) {
    std::string expected = write_with<rapidjson::Writer<rapidjson::StringBuffer>>(strings);
    std::string got = write_with<ferry::JsonWriter>(strings);
    REQUIRE(got == expected);
}

}  // namespace

TEST_CASE("JsonWriter: escapes as rapidjson does", "[json_writer]") {
    check_same({"", "plain", "a\"b", "back\\slash", "line\nbreak\r\n\ttab", "\b\f",
                std::string("nul\0byte", 8), "\x01\x1f\x7f", "caf\xc3\xa9 \xe2\x82\xac",
                "/slash/ is not escaped"});
    // Every byte value, alone and inside runs that cross the 16-byte blocks.
    std::vector<std::string> bytes;
    for (int c = 0; c < 256; ++c) {
        bytes.push_back(std::string(1, char(c)));
        for (size_t at : {0, 7, 15, 16, 17, 31, 33}) {
            std::string s(40, 'x');
            s[at] = char(c);
            bytes.push_back(s);
        }
    }
    check_same(bytes);
}

TEST_CASE("JsonWriter: every length up to 40 with a special byte at every place", "[json_writer]") {
    // Short strings are checked as overlapping words and long ones end with an overlapping
    // 16-byte block: each length and position takes a different path through them.
    std::vector<std::string> strings;
    for (size_t n = 0; n <= 40; ++n) {
        strings.push_back(std::string(n, 'a'));
        std::string mixed(n, 'b');
        for (size_t k = 0; k < n; k += 3)
            mixed[k] = "\"\\\n\x01"[k % 4];
        strings.push_back(mixed);
        for (size_t at = 0; at < n; ++at) {
            for (char c : {'"', '\\', '\0', '\x1f', ' ', '\x7f', char(0x80), char(0xE2)}) {
                std::string s(n, 'x');
                s[at] = c;
                strings.push_back(s);
            }
        }
    }
    // Long texts are escaped a 256-byte block at a time: blocks of nothing but escapes.
    for (size_t n : {255, 256, 257, 600}) {
        strings.push_back(std::string(n, '"'));
        strings.push_back(std::string(n, '\x01'));
        std::string tail(n, 'y');
        tail[n - 1] = '\n';
        strings.push_back(tail);
    }
    check_same(strings);
    // write_json_escaped writes the same bytes where it is told.
    for (const std::string& s : strings) {
        rapidjson::StringBuffer buf;
        ferry::append_json_escaped(buf, s);
        std::string room(s.size() * 6 + 1, '#');
        char* end = ferry::write_json_escaped(room.data(), s);
        REQUIRE(std::string(room.data(), end) == std::string(buf.GetString(), buf.GetSize()));
        REQUIRE(room.back() == '#');
        // json_escaped_size says how many, whatever the path.
        REQUIRE(ferry::json_escaped_size(s) == size_t(end - room.data()));
    }
}

TEST_CASE("JsonWriter: random text and documents", "[json_writer]") {
    std::mt19937 rng(20261201);
    std::vector<std::string> strings;
    for (int n = 0; n < 500; ++n) {
        std::string s(rng() % 300, '\0');
        // Mostly printable, with the occasional character that needs escaping.
        for (char& c : s)
            c = rng() % 20 == 0 ? char(rng() % 256) : char(' ' + rng() % 95);
        strings.push_back(s);
    }
    check_same(strings);

    // Through Document::Accept, as json_lua and the API write DOMs.
    rapidjson::Document doc;
    doc.Parse(
        R"({"report":"# Incident\n\n| a | b |\n|---|---|\n| \"x\" | \\ |\n","n":[1,2.5,null,true],"k\u0001":{}})");
    REQUIRE_FALSE(doc.HasParseError());
    rapidjson::StringBuffer a, b;
    rapidjson::Writer<rapidjson::StringBuffer> plain(a);
    ferry::JsonWriter fast(b);
    doc.Accept(plain);
    doc.Accept(fast);
    CHECK(std::string(b.GetString()) == std::string(a.GetString()));
}

TEST_CASE("JsonWriter: NUL-terminated keys and strings, as rapidjson's Writer takes them",
          "[json_writer]") {
    rapidjson::StringBuffer a, b;
    rapidjson::Writer<rapidjson::StringBuffer> plain(a);
    ferry::JsonWriter fast(b);
    plain.StartObject();
    plain.Key("op");
    plain.String("replace \"all\"\n");
    plain.EndObject();
    fast.StartObject();
    fast.Key("op");
    fast.String("replace \"all\"\n");
    fast.EndObject();
    CHECK(std::string(b.GetString()) == std::string(a.GetString()));
    CHECK(std::string(b.GetString()) == R"({"op":"replace \"all\"\n"})");
}

namespace {

std::string rapidjson_double(double v) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    w.Double(v);
    return buf.GetString();
}

std::string ferry_double(double v) {
    rapidjson::StringBuffer buf;
    ferry::JsonWriter w(buf);
    w.Double(v);
    return buf.GetString();
}

}  // namespace

TEST_CASE("JsonWriter: doubles as rapidjson writes them, the fixed-point path included",
          "[json_writer]") {
    // Every value of three decimals around zero (the fixed-point path and its edges)...
    for (int64_t m = -20000; m <= 200000; ++m) {
        double v = double(m) / 1000.0;
        INFO(m);
        REQUIRE(ferry_double(v) == rapidjson_double(v));
    }
    // ...then values across the whole range: below 0.001, near the path's 1e9 limit, beyond
    // it, with more decimals than three, and integral ones.
    std::mt19937_64 rng(20261203);
    for (int n = 0; n < 30000; ++n) {
        const double values[] = {
            double(rng() % 2000000000000ULL) / 1000.0,  // 0 .. 2e9, three decimals
            double(rng() % 100000000) / 1e6,            // six decimals
            double(rng() % 1000000) / 100.0,
            double(int64_t(rng() % 4000000000ULL) - 2000000000),
            double(rng() % 1000) / 1e7,  // below 0.001
            std::ldexp(double(rng() % (1ULL << 52)), int(rng() % 120) - 60),
        };
        for (double v : values) {
            INFO(v);
            REQUIRE(ferry_double(v) == rapidjson_double(v));
            REQUIRE(ferry_double(-v) == rapidjson_double(-v));
        }
    }
    CHECK(ferry_double(12.5) == "12.5");
    CHECK(ferry_double(3.0) == "3.0");
    CHECK(ferry_double(0.001) == "0.001");
    CHECK(ferry_double(0.0) == "0.0");
    CHECK(ferry_double(-0.25) == "-0.25");
}

TEST_CASE("ScratchBuffer: borrowed cleared, nested ones distinct, big ones not kept",
          "[json_writer]") {
    const rapidjson::StringBuffer* first = nullptr;
    {
        ferry::ScratchBuffer a;
        a->Put('x');
        first = &*a;
        ferry::ScratchBuffer b;  // while a is borrowed
        CHECK(&*b != first);
        b->Put('y');
        CHECK(a.text() == "x");
        CHECK(b.text() == "y");
    }
    {
        ferry::ScratchBuffer again;
        CHECK(again->GetSize() == 0);  // given back cleared
        std::string big(200 * 1024, 'z');
        again->Push(big.size());
    }
    for (int i = 0; i < 8; ++i) {
        ferry::ScratchBuffer b;
        CHECK(b->GetSize() == 0);
        CHECK(b->stack_.GetCapacity() <= 64 * 1024);  // the 200 KB one was freed
    }
}

// runtime/duration: the durations workflow files use (timeout, retry delays, sleep).
#include "runtime/duration.h"

#include <catch2/catch.hpp>

using ferry::format_duration_ms;
using ferry::parse_duration_ms;

namespace {

uint64_t ms(const char* text) {
    auto r = parse_duration_ms(text);
    INFO(text << ": " << (r ? "" : r.error().message));
    REQUIRE(r.ok());
    return r.value();
}

std::string error_of(const char* text) {
    auto r = parse_duration_ms(text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == ferry::ErrorKind::Validation);
    return r.error().message;
}

}  // namespace

TEST_CASE("durations parse with units", "[duration]") {
    CHECK(ms("300ms") == 300);
    CHECK(ms("2s") == 2000);
    CHECK(ms("1m") == 60'000);
    CHECK(ms("1h") == 3'600'000);
    CHECK(ms("2d") == 172'800'000);
    CHECK(ms("1m30s") == 90'000);
    CHECK(ms("1h2m3s4ms") == 3'723'004);
    CHECK(ms("1.5s") == 1500);
    CHECK(ms("0.25s") == 250);
    CHECK(ms(".5s") == 500);
    CHECK(ms("1.5h") == 5'400'000);
    CHECK(ms("1.500s") == 1500);
    CHECK(ms("0s") == 0);
    CHECK(ms(" 2s ") == 2000);
    CHECK(ms("1.0000000000000000000000s") == 1000);  // long zero fractions are exact
}

TEST_CASE("bad durations are rejected with a message quoting the text", "[duration]") {
    CHECK(error_of("5 minutes") ==
          "expected a duration like 300ms, 2s, 1m30s or 1h, got '5 minutes'");
    CHECK(error_of("30") ==
          "expected a duration like 300ms, 2s, 1m30s or 1h, got '30' (a unit is required)");
    CHECK(error_of("0").find("a unit is required") != std::string::npos);
    CHECK(error_of("") == "expected a duration like 300ms, 2s, 1m30s or 1h, got ''");
    CHECK(error_of("-1s").find("got '-1s'") != std::string::npos);
    CHECK(error_of("1.5ms").find("finer than a millisecond") != std::string::npos);
    CHECK(error_of("0.0001s").find("finer than a millisecond") != std::string::npos);
    CHECK(error_of("30s1m").find("largest to smallest") != std::string::npos);
    CHECK(error_of("1m1m").find("largest to smallest") != std::string::npos);
    CHECK(error_of("1x").find("got '1x'") != std::string::npos);
    CHECK(error_of("s") == "expected a duration like 300ms, 2s, 1m30s or 1h, got 's'");
    CHECK(error_of("1..5s").find("got '1..5s'") != std::string::npos);
    CHECK(error_of("99999999999999999999d").find("too long") != std::string::npos);
    CHECK(error_of("213503982335d").find("too long") != std::string::npos);
    // A century at most: past it "now + d" leaves the years RFC 3339 can write.
    CHECK(ms("36525d") == 36525ull * 86'400'000);
    CHECK(error_of("36525d1ms").find("longer than 100 years") != std::string::npos);
    CHECK(error_of("2562047788015h").find("longer than 100 years") != std::string::npos);
}

TEST_CASE("durations format in their shortest exact form", "[duration]") {
    CHECK(format_duration_ms(0) == "0s");
    CHECK(format_duration_ms(250) == "250ms");
    CHECK(format_duration_ms(1500) == "1.5s");
    CHECK(format_duration_ms(1001) == "1s1ms");
    CHECK(format_duration_ms(90'000) == "1m30s");
    CHECK(format_duration_ms(60'500) == "1m500ms");
    CHECK(format_duration_ms(3'600'000) == "1h");
    CHECK(format_duration_ms(90'000'000) == "1d1h");
    CHECK(format_duration_ms(3'723'004) == "1h2m3s4ms");
    CHECK(format_duration_ms(3'723'400) == "1h2m3.4s");
}

TEST_CASE("formatted durations parse back to the same value", "[duration]") {
    for (uint64_t v : {0ull, 1ull, 999ull, 1000ull, 1500ull, 59'999ull, 61'001ull, 3'599'999ull,
                       86'400'001ull, 123'456'789'012ull}) {
        INFO(v);
        CHECK(ms(format_duration_ms(v).c_str()) == v);
    }
}

TEST_CASE("sizes parse with units", "[duration][size]") {
    auto bytes = [](const char* text) {
        auto r = ferry::parse_size_bytes(text);
        INFO(text << ": " << (r ? "" : r.error().message));
        REQUIRE(r.ok());
        return r.value();
    };
    CHECK(bytes("1MiB") == 1048576);
    CHECK(bytes("512KiB") == 524288);
    CHECK(bytes("4KB") == 4000);
    CHECK(bytes("2GiB") == (uint64_t(2) << 30));
    CHECK(bytes("100B") == 100);
    CHECK(bytes("64TiB") == (uint64_t(64) << 40));
    CHECK(bytes("2TB") == 2'000'000'000'000);
    auto error_of = [](const char* text) {
        auto r = ferry::parse_size_bytes(text);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().kind == ferry::ErrorKind::Validation);
        return r.error().message;
    };
    CHECK(error_of("1mb") == "expected a size like 1MiB, 512KiB or 4KB, got '1mb'");
    CHECK(error_of("1024") ==
          "expected a size like 1MiB, 512KiB or 4KB, got '1024' (a unit is required)");
    CHECK(error_of("") == "expected a size like 1MiB, 512KiB or 4KB, got ''");
    CHECK(error_of("1.5MiB").find("got '1.5MiB'") != std::string::npos);
    CHECK(error_of("99999999999999999999GiB").find("(too large)") != std::string::npos);
    CHECK(error_of("20000000000GiB").find("(too large)") != std::string::npos);
    CHECK(error_of("20000000TiB").find("(too large)") != std::string::npos);
}

TEST_CASE("sizes read in messages in the largest whole unit, with their bytes", "[size]") {
    CHECK(ferry::format_size_bytes(4194304) == "4MiB (4194304 bytes)");
    CHECK(ferry::format_size_bytes(1024) == "1KiB (1024 bytes)");
    CHECK(ferry::format_size_bytes(2'000'000) == "2MB (2000000 bytes)");
    CHECK(ferry::format_size_bytes(uint64_t(3) << 40) == "3TiB (3298534883328 bytes)");
    CHECK(ferry::format_size_bytes(1500) == "1500 bytes");  // 1.5KB: not whole
    CHECK(ferry::format_size_bytes(1) == "1 byte");
    CHECK(ferry::format_size_bytes(0) == "0 bytes");
    // What the message says parses back to the same size.
    for (uint64_t size : {uint64_t(4194304), uint64_t(2'000'000), uint64_t(5) << 30}) {
        std::string text = ferry::format_size_bytes(size);
        auto parsed = ferry::parse_size_bytes(text.substr(0, text.find(' ')));
        REQUIRE(parsed.ok());
        CHECK(parsed.value() == size);
    }
}

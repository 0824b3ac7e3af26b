// runtime/crypto: known-answer tests from the RFCs, and the strictness of the decoders.
#include "runtime/crypto.h"

#include <catch2/catch.hpp>

#include <set>
#include <string>

using namespace ferry;

namespace {

std::string unhex(std::string_view hex) {
    auto bytes = crypto::hex_decode(hex);
    REQUIRE(bytes);
    return *bytes;
}

}  // namespace

TEST_CASE("sha256 known answers (FIPS 180-4 examples)", "[crypto]") {
    CHECK(crypto::sha256_hex("") ==
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(crypto::sha256_hex("abc") ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(crypto::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    CHECK(crypto::sha256_hex(std::string(1'000'000, 'a')) ==
          "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    CHECK(crypto::sha256("abc").size() == 32);
    CHECK(crypto::hex_encode(crypto::sha256("abc")) == crypto::sha256_hex("abc"));
    // Bytes, not C strings: an embedded NUL is hashed.
    CHECK(crypto::sha256_hex(std::string("a\0b", 3)) != crypto::sha256_hex("a"));
}

TEST_CASE("hmac_sha256 RFC 4231 test vectors", "[crypto]") {
    struct Case {
        std::string key, data, mac_hex;
    };
    const Case cases[] = {
        // 1
        {std::string(20, '\x0b'), "Hi There",
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
        // 2: a key shorter than the output
        {"Jefe", "what do ya want for nothing?",
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
        // 3
        {std::string(20, '\xaa'), std::string(50, '\xdd'),
         "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
        // 4
        {unhex("0102030405060708090a0b0c0d0e0f10111213141516171819"), std::string(50, '\xcd'),
         "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
        // 6: a key larger than the block size
        {std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First",
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
        // 7
        {std::string(131, '\xaa'),
         "This is a test using a larger than block-size key and a larger than block-size "
         "data. The key needs to be hashed before being used by the HMAC algorithm.",
         "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
    };
    for (const Case& c : cases) {
        INFO(c.data);
        CHECK(crypto::hex_encode(crypto::hmac_sha256(c.key, c.data)) == c.mac_hex);
    }
    // 5: truncated to 128 bits
    CHECK(crypto::hex_encode(crypto::hmac_sha256(std::string(20, '\x0c'), "Test With Truncation"))
              .substr(0, 32) == "a3b6167473100ee06e0c796c2955552b");
    // The empty key is a key (not "reuse the previous one").
    CHECK(crypto::hex_encode(crypto::hmac_sha256("", "")) ==
          "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST_CASE("Standard Webhooks signature test vector", "[crypto]") {
    // https://www.standardwebhooks.com: signed content is "id.timestamp.body", the key is the
    // base64 text after "whsec_", the header value "v1,<base64 of the MAC>".
    std::string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    auto key = crypto::base64_decode(std::string_view(secret).substr(6));
    REQUIRE(key);
    std::string content = "msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{\"test\": 2432232314}";
    std::string signature = "v1," + crypto::base64_encode(crypto::hmac_sha256(*key, content));
    CHECK(signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST_CASE("base64 RFC 4648 section 10 vectors", "[crypto]") {
    const std::pair<const char*, const char*> vectors[] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    for (auto [plain, encoded] : vectors) {
        INFO(plain);
        CHECK(crypto::base64_encode(plain) == encoded);
        CHECK(crypto::base64_decode(encoded) == std::string(plain));
        // Unpadded text decodes too.
        std::string unpadded = crypto::base64_encode(plain, false, false);
        CHECK(unpadded == std::string(encoded).substr(0, unpadded.size()));
        CHECK(unpadded.find('=') == std::string::npos);
        CHECK(crypto::base64_decode(unpadded) == std::string(plain));
    }
}

TEST_CASE("base64 alphabets", "[crypto]") {
    std::string bytes = "\xfb\xff\xbf";
    CHECK(crypto::base64_encode(bytes) == "+/+/");
    CHECK(crypto::base64_encode(bytes, true) == "-_-_");
    CHECK(crypto::base64_encode("\xfb\xff", false) == "+/8=");
    CHECK(crypto::base64_encode("\xfb\xff", true) == "-_8=");
    CHECK(crypto::base64_encode("\xfb\xff", true, false) == "-_8");
    CHECK(crypto::base64_decode("+/+/") == bytes);
    CHECK(crypto::base64_decode("-_-_") == bytes);
    CHECK(crypto::base64_decode("-_8") == std::string("\xfb\xff"));
    // All 256 byte values survive both alphabets.
    std::string all;
    for (int i = 0; i < 256; ++i)
        all += char(i);
    CHECK(crypto::base64_decode(crypto::base64_encode(all)) == all);
    CHECK(crypto::base64_decode(crypto::base64_encode(all, true, false)) == all);
}

TEST_CASE("base64 decoding is strict", "[crypto]") {
    const char* invalid[] = {
        "Z",      // 6 bits cannot make a byte
        "Zg=",    // incomplete padding
        "Zg===",  // too much padding
        "=",         "==", "====",
        "Zm9=v",      // '=' in the middle
        "Zg==Zg==",   // padding then more data
        "Zm9v YmFy",  // whitespace
        "Zm9v\n",     // line break
        "Zh==",       // non-canonical: unused bits set (RFC 4648 3.5)
        "Zm9=",       // non-canonical
        "+-",         // two alphabets in one text
        "ab_/",       // two alphabets in one text
        "Zm9v!",      // not base64 at all
        "Zm9vYmFy=",  // padding after a complete group
    };
    for (const char* text : invalid) {
        INFO(text);
        CHECK_FALSE(crypto::base64_decode(text));
    }
    CHECK(crypto::base64_decode("") == std::string());
}

TEST_CASE("hex encoding", "[crypto]") {
    CHECK(crypto::hex_encode(std::string("\x00\x01\xab\xff", 4)) == "0001abff");
    CHECK(crypto::hex_decode("0001abff") == std::string("\x00\x01\xab\xff", 4));
    CHECK(crypto::hex_decode("0001ABFF") == std::string("\x00\x01\xab\xff", 4));
    CHECK(crypto::hex_decode("") == std::string());
    CHECK_FALSE(crypto::hex_decode("abc"));
    CHECK_FALSE(crypto::hex_decode("zz"));
    CHECK_FALSE(crypto::hex_decode("0x00"));
    CHECK_FALSE(crypto::hex_decode("a "));
}

TEST_CASE("random_bytes", "[crypto]") {
    CHECK(crypto::random_bytes(0).empty());
    CHECK(crypto::random_bytes(1).size() == 1);
    CHECK(crypto::random_bytes(3'000'000).size() == 3'000'000);  // more than one RAND chunk
    std::set<std::string> seen;
    for (int i = 0; i < 100; ++i)
        seen.insert(crypto::random_bytes(16));
    CHECK(seen.size() == 100);
}

TEST_CASE("constant_time_equals", "[crypto]") {
    CHECK(crypto::constant_time_equals("", ""));
    CHECK(crypto::constant_time_equals("abc", "abc"));
    CHECK_FALSE(crypto::constant_time_equals("abc", "abd"));
    CHECK_FALSE(crypto::constant_time_equals("abc", "ab"));
    CHECK_FALSE(crypto::constant_time_equals("", "a"));
    CHECK(crypto::constant_time_equals(std::string("a\0b", 3), std::string("a\0b", 3)));
    CHECK_FALSE(crypto::constant_time_equals(std::string("a\0b", 3), std::string("a\0c", 3)));
}

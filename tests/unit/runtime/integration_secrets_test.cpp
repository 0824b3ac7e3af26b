// Secret references resolve at use and their values are redacted everywhere.
#include "runtime/integration/secrets.h"

#include <catch2/catch.hpp>

#include <chrono>

#include <cstdio>
#include <cstdlib>
#include <fstream>

using namespace ferry;

TEST_CASE("secret references: syntax", "[secrets]") {
    CHECK(is_secret_reference("${env:TOKEN}"));
    CHECK(is_secret_reference("${file:/run/secrets/hec}"));
    CHECK_FALSE(is_secret_reference("plain"));
    CHECK_FALSE(is_secret_reference("${env:}"));
    CHECK(check_secret_syntax("plain"));
    CHECK_FALSE(check_secret_syntax("${vault:x}"));
    CHECK_FALSE(check_secret_syntax("${env:}"));
}

TEST_CASE("env and file secrets resolve and are redacted", "[secrets]") {
    ::setenv("FERRY_TEST_SECRET", "s3cr3t-value-1", 1);
    Result<std::string> v = resolve_secret("${env:FERRY_TEST_SECRET}");
    REQUIRE(v);
    CHECK(v.value() == "s3cr3t-value-1");
    CHECK(redact("auth failed for s3cr3t-value-1!") == "auth failed for [REDACTED]!");

    std::string path = "/tmp/ferry-secret-test-" + std::to_string(::getpid());
    std::ofstream(path) << "from-a-file-99\n";
    Result<std::string> f = resolve_secret("${file:" + path + "}");
    std::remove(path.c_str());
    REQUIRE(f);
    CHECK(f.value() == "from-a-file-99");  // one trailing newline dropped
    CHECK(redact("x from-a-file-99 y") == "x [REDACTED] y");
}

TEST_CASE("a missing secret names the reference, not a value", "[secrets]") {
    ::unsetenv("FERRY_TEST_ABSENT");
    Result<std::string> v = resolve_secret("${env:FERRY_TEST_ABSENT}");
    REQUIRE_FALSE(v);
    CHECK(v.error().message.find("FERRY_TEST_ABSENT is not set") != std::string::npos);
    Result<std::string> f = resolve_secret("${file:/nonexistent/ferry}");
    REQUIRE_FALSE(f);
    CHECK(f.error().message.find("cannot read") != std::string::npos);
}

TEST_CASE("an empty secret or a folder is refused before anything is sent", "[secrets]") {
    ::setenv("FERRY_TEST_EMPTY", "", 1);
    Result<std::string> v = resolve_secret("${env:FERRY_TEST_EMPTY}");
    REQUIRE_FALSE(v);
    CHECK(v.error().message == "secret ${env:FERRY_TEST_EMPTY}: the variable is empty");
    Result<std::string> dir = resolve_secret("${file:/tmp}");
    REQUIRE_FALSE(dir);
    CHECK(dir.error().message == "secret ${file:/tmp}: cannot read the file (not a regular file)");
    std::string path = "/tmp/ferry-empty-secret-" + std::to_string(::getpid());
    std::ofstream(path) << "\n";
    Result<std::string> empty = resolve_secret("${file:" + path + "}");
    std::remove(path.c_str());
    REQUIRE_FALSE(empty);
    CHECK(empty.error().message.find("the file is empty") != std::string::npos);
    // A wrong path to a large file is no secret (and was read again every second).
    std::ofstream(path) << std::string(64 * 1024 + 1, 'x');
    Result<std::string> large = resolve_secret("${file:" + path + "}");
    std::remove(path.c_str());
    REQUIRE_FALSE(large);
    CHECK(large.error().message ==
          "secret ${file:" + path + "}: the file holds 65537 bytes; a secret is at most 64 KiB");
    // Nothing but one whole reference: the rest would have gone out as written.
    CHECK_FALSE(check_secret_syntax("${env:A}${env:B}"));
    CHECK_FALSE(check_secret_syntax("Bearer ${env:T}"));
    CHECK_FALSE(check_secret_syntax("${file:/a} "));
    CHECK(check_secret_syntax("${env:A}"));
    CHECK(check_secret_syntax("literal"));
    // The refusal names the references, never the text beside them (a literal secret).
    Status mixed = check_secret_syntax("hunter2${env:X}");
    REQUIRE_FALSE(mixed);
    CHECK(mixed.error().message ==
          "a secret is exactly one reference, ${env:NAME} or ${file:PATH}, with nothing "
          "around it (this value has text beside ${env:X}; the value is not shown)");
    Status unclosed = check_secret_syntax("${env:PASShunter2 ${file:/run/k}");
    REQUIRE_FALSE(unclosed);
    CHECK(unclosed.error().message.find("hunter2") == std::string::npos);
    CHECK(unclosed.error().message.find("${env:... (not closed), ${file:/run/k}") !=
          std::string::npos);
}

TEST_CASE("the redactor replaces longest values first and ignores tiny ones", "[secrets]") {
    Redactor& r = Redactor::instance();
    r.add("abcd1234");
    r.add("abcd1234-longer");
    r.add("ab");  // too short to redact safely
    CHECK(r.redact("abcd1234-longer abcd1234 ab") == "[REDACTED] [REDACTED] ab");
    // In JSON text: the same replacements, and a text without a secret is left as it was.
    std::string text = "{\"a\":\"abcd1234\",\"b\":\"abcd1234-longer\"}";
    r.redact_json_in_place(text);
    CHECK(text == "{\"a\":\"[REDACTED]\",\"b\":\"[REDACTED]\"}");
    std::string clean = "{\"a\":\"nothing to hide\"}";
    r.redact_json_in_place(clean);
    CHECK(clean == "{\"a\":\"nothing to hide\"}");
}

TEST_CASE("JSON text stays valid JSON and loses escaped secrets too", "[secrets]") {
    Redactor r;  // not the process-wide one: "null" must not stay a secret for other tests
    // A secret that is also a JSON literal or number: only string contents are redacted,
    // and a number token that is a whole secret becomes a string.
    r.add("null");
    r.add("false");
    r.add("98765");
    CHECK(
        r.redact_json(R"({"error":null,"ok":false,"n":98765,"m":198765,"s":"null and false"})") ==
        R"({"error":null,"ok":false,"n":"[REDACTED]","m":198765,"s":"[REDACTED] and [REDACTED]"})");
    // A secret with a quote, a backslash and a tab is found in its escaped form.
    r.add("s3cr\"et\\pa\t55");
    CHECK(r.redact_json(R"({"h":"Bearer s3cr\"et\\pa\t55","x":1})") ==
          R"({"h":"Bearer [REDACTED]","x":1})");
    // Never across an escape sequence: "nabc" is not in "\nabc" (a newline, then abc).
    r.add("nabcd");
    CHECK(r.redact_json(R"({"t":"x\nabcd","u":"nabcd"})") == R"({"t":"x\nabcd","u":"[REDACTED]"})");
    // Plain text (messages, log lines) is redacted as text.
    CHECK(r.redact("error: null") == "error: [REDACTED]");
}

TEST_CASE("a secret quoted back in a vendor's JSON body is found in every spelling", "[secrets]") {
    Redactor r;
    const std::string secret = "Pw-\xC3\xBCn\"c0de/\\x";  // Pw-ün"c0de/\x
    r.add(secret);
    const std::string u = "\xC3\xBC";  // ü in UTF-8
    // The vendor's JSON, as text (a message quoting the answer): minimally escaped, and
    // with non-ASCII as \u escapes (Python's default) in either case of hex.
    for (const std::string& body : {R"({"decoded":"svc:Pw-)" + u + R"(n\"c0de/\\x"})",
                                    std::string(R"({"decoded":"svc:Pw-\u00fcn\"c0de/\\x"})"),
                                    std::string(R"({"decoded":"svc:Pw-\u00FCn\"c0de/\\x"})")}) {
        INFO(body);
        CHECK(r.redact(body) == R"({"decoded":"svc:[REDACTED]"})");
    }
    // The same body kept as a string in a record (a response body in a step's output):
    // escaped once more, and the record stays valid JSON.
    CHECK(
        r.redact_json(R"({"body":"{\"decoded\":\"svc:Pw-)" + u + R"(n\\\"c0de/\\\\x\"}","n":1})") ==
        R"({"body":"{\"decoded\":\"svc:[REDACTED]\"}","n":1})");
    CHECK(r.redact_json(R"({"body":"{\"decoded\":\"svc:Pw-\\u00fcn\\\"c0de/\\\\x\"}"})") ==
          R"({"body":"{\"decoded\":\"svc:[REDACTED]\"}"})");
    // And as a record's own string, as before.
    CHECK(r.redact_json(R"({"p":"Pw-)" + u + R"(n\"c0de/\\x"})") == R"({"p":"[REDACTED]"})");
    CHECK(r.redact(secret) == "[REDACTED]");
    // With "/" written as "\/" (PHP's json_encode by default), \u escapes or not.
    CHECK(r.redact(R"({"decoded":"svc:Pw-\u00fcn\"c0de\/\\x"})") ==
          R"({"decoded":"svc:[REDACTED]"})");
    CHECK(r.redact(R"({"decoded":"svc:Pw-)" + u + R"(n\"c0de\/\\x"})") ==
          R"({"decoded":"svc:[REDACTED]"})");
}

TEST_CASE("a secret with a slash echoed PHP-style (a backslash before it) is redacted in text and "
          "records",
          "[secrets]") {
    Redactor r;
    r.add("Api/Key+Value=Secret77");
    const std::string echoed = R"(HTTP 401: {"error":"invalid api key Api\/Key+Value=Secret77"})";
    CHECK(r.redact(echoed) == R"(HTTP 401: {"error":"invalid api key [REDACTED]"})");
    // The same message as a string in a record: escaped once more.
    CHECK(r.redact_json(R"({"message":"{\"error\":\"key Api\\/Key+Value=Secret77\"}"})") ==
          R"({"message":"{\"error\":\"key [REDACTED]\"}"})");
}

namespace {

// What JSON writes for text inside a string, quotes and backslashes being all these hold.
std::string escaped(const std::string& text) {
    std::string out;
    for (char c : text) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out;
}

}  // namespace

TEST_CASE("a secret in a JSON text kept as a string inside another is redacted", "[secrets]") {
    // A vendor's field holding the JSON of a request it received, as Python writes it: the
    // secret escaped twice in the body, three times once the body is a record's string.
    Redactor r;
    r.add("J\"s\\on-77");
    const std::string inner = R"({"p": "J\"s\\on-77"})";
    const std::string body = "{\"x\": \"" + escaped(inner) + "\"}";
    CHECK(body == R"({"x": "{\"p\": \"J\\\"s\\\\on-77\"}"})");
    CHECK(r.redact(body) == R"({"x": "{\"p\": \"[REDACTED]\"}"})");
    CHECK(r.redact_json("{\"body\":\"" + escaped(body) + "\"}") ==
          "{\"body\":\"" + escaped(R"({"x": "{\"p\": \"[REDACTED]\"}"})") + "\"}");
    // Non-ASCII written as \u escapes (Python's default), then escaped again.
    r.add("p\xC3\xA4ssw\xC3\xB6rd-42");  // pässwörd-42
    CHECK(r.redact(R"({"x": "{\"p\": \"p\\u00e4ssw\\u00f6rd-42\"}"})") ==
          R"({"x": "{\"p\": \"[REDACTED]\"}"})");
}

TEST_CASE("secrets that overlap are redacted as one, no tail left", "[secrets]") {
    Redactor r;
    r.add("OVERLAP-aaaa1111");
    r.add("aaaa1111-TAIL-xyz9");
    CHECK(r.redact("x OVERLAP-aaaa1111-TAIL-xyz9 y") == "x [REDACTED] y");
    CHECK(r.redact_json(R"({"v":"x OVERLAP-aaaa1111-TAIL-xyz9 y"})") ==
          R"({"v":"x [REDACTED] y"})");
    // Apart, each is its own; one inside another is the longer one.
    CHECK(r.redact("aaaa1111-TAIL-xyz9 / OVERLAP-aaaa1111") == "[REDACTED] / [REDACTED]");
    r.add("OVERLAP-aaaa1111-TAIL-xyz9-and-more");
    CHECK(r.redact("<OVERLAP-aaaa1111-TAIL-xyz9-and-more>") == "<[REDACTED]>");
    // Overlapping over an escape sequence: the record stays valid JSON.
    r.add("pre-\"mid");
    r.add("\"mid-post");
    CHECK(r.redact_json(R"({"v":"a pre-\"mid-post b"})") == R"({"v":"a [REDACTED] b"})");
    CHECK(r.redact("a pre-\"mid-post b") == "a [REDACTED] b");
    // Two that start at one place: the longer is taken (one's percent-encoded form begins
    // with the other whole).
    Redactor p;
    p.add("%2F%2F%2F%2Fa");
    p.add("////abcdefgh");
    CHECK(p.redact_json(R"({"v":"see %2F%2F%2F%2Fabcdefgh here"})") ==
          R"({"v":"see [REDACTED] here"})");
    CHECK(p.redact("see %2F%2F%2F%2Fabcdefgh here") == "see [REDACTED] here");
}

TEST_CASE("a secret that is not UTF-8 is found as records hold it (U+FFFD)", "[secrets]") {
    // A Latin-1 password reached records with its stray bytes repaired, and was found in
    // neither form: stored all but two characters.
    Redactor r;
    r.add("p\xe4ssw\xf6rd-Latin1-Secret");
    CHECK(r.redact_json("{\"message\":\"bad password: p\xef\xbf\xbdssw\xef\xbf\xbdrd-Latin1-Secret "
                        "end\"}") == "{\"message\":\"bad password: [REDACTED] end\"}");
    CHECK(r.redact("p\xe4ssw\xf6rd-Latin1-Secret") == "[REDACTED]");
}

TEST_CASE("a secret's first part before a clip's ... is redacted", "[secrets]") {
    // ferry.text.clip cuts without knowing the secrets (a task must not learn them): the
    // record finds what the cut left of one.
    Redactor r;
    r.add("s3cr3t-P4ssw0rd-xyz");
    CHECK(r.redact("xx token=s3cr3t-P4ss...") == "xx token=[REDACTED]...");
    CHECK(r.redact("a s3cr... b s3c...") == "a [REDACTED]... b s3c...");  // 3 bytes stay
    CHECK(r.redact("plain text... s3cr3t") == "plain text... s3cr3t");
    CHECK(r.redact_json("{\"m\":\"HTTP 400: s3cr3t-P...\",\"n\":\"s3cr3t-P4ssw0rd-xyz\"}") ==
          "{\"m\":\"HTTP 400: [REDACTED]...\",\"n\":\"[REDACTED]\"}");
    // In JSON only a prefix that starts at a character (not inside an escape) is taken.
    Redactor q;
    q.add("ab\"cd-secret");
    CHECK(q.redact_json("{\"m\":\"x ab\\\"cd-s...\"}") == "{\"m\":\"x [REDACTED]...\"}");
    // A record whose clip was redacted says so: read back by a resume, "[REDACTED]..." in a
    // value is what the run cannot send (a task guessing prefixes learnt them otherwise).
    std::string marked = "{\"m\":\"s3cr3t-P...\"}";
    CHECK(r.redact_json_in_place(marked));
    std::string plain = "{\"m\":\"nothing to see...\"}";
    CHECK_FALSE(r.redact_json_in_place(plain));
    // Linear in the text: a 1.6 KB key before every "..." of long runs of dots and of
    // ellipses took seconds a line (the bound is far above what it takes now).
    Redactor big;
    std::string key;
    for (int i = 0; i < 1600; ++i)
        key += char('a' + (i * 7919) % 26);
    big.add(key);
    std::string dots(200000, '.');
    std::string ellipses;
    for (int i = 0; i < 30000; ++i)
        ellipses += "ab... ";
    const auto began = std::chrono::steady_clock::now();
    CHECK(big.redact(dots) == dots);
    CHECK(big.redact_json("{\"m\":\"" + dots + "\"}") == "{\"m\":\"" + dots + "\"}");
    CHECK(big.redact(ellipses) == ellipses);
    CHECK(big.redact(key.substr(0, 900) + "...") == "[REDACTED]...");
    CHECK(std::chrono::steady_clock::now() - began < std::chrono::seconds(5));
    Redactor e;
    e.add("u00e9-token-99");
    CHECK(e.redact_json("{\"m\":\"caf\\u00e9-tok...\"}") == "{\"m\":\"caf\\u00e9-tok...\"}");
}

TEST_CASE("a rotated credential is taken back as often as it was added", "[secrets]") {
    Redactor r;
    r.add("token-one-1234");
    r.add("token-one-1234");  // two integrations handed the same token
    r.add("caf\xe9-token");
    r.remove("token-one-1234");
    CHECK(r.redact("a token-one-1234 b") == "a [REDACTED] b");
    r.remove("token-one-1234");
    CHECK(r.redact("a token-one-1234 b") == "a token-one-1234 b");
    r.remove("caf\xe9-token");
    CHECK(r.empty());
    r.remove("never-added");  // nothing to take back
    CHECK(r.empty());
}

TEST_CASE("a cut is moved to the start of a secret it would split", "[secrets]") {
    Redactor r;
    r.add("hunter2-secret-value");
    const std::string text = "0123456789hunter2-secret-value tail";
    CHECK(r.safe_cut(text, 15) == 10);  // inside the secret: before it
    CHECK(r.safe_cut(text, 10) == 10);  // at its start: nothing split
    CHECK(r.safe_cut(text, 30) == 30);  // at its end
    CHECK(r.safe_cut(text, 5) == 5);
    CHECK(r.safe_cut(text, 99) == text.size());
    // Its percent-encoded form too (a URL quoting it).
    Redactor u;
    u.add("p@ss word!x");
    const std::string url = "https://x/?q=p%40ss%20word%21x&n=1";
    CHECK(u.safe_cut(url, 20) == 13);
}

TEST_CASE("a secret echoed percent-encoded in a URL or a form body is redacted", "[secrets]") {
    Redactor r;
    r.add("Bearer S3CRET/\"\\x-ABC def");  // Bearer S3CRET/"\x-ABC def
    // Every reserved character encoded (upper and lower hex), "/" kept (Python's quote), as
    // encodeURI leaves it, and a form body's "+" for spaces.
    for (const std::string& url : {std::string("Bearer%20S3CRET%2F%22%5Cx-ABC%20def"),
                                   std::string("Bearer%20S3CRET%2f%22%5cx-ABC%20def"),
                                   std::string("Bearer%20S3CRET/%22%5Cx-ABC%20def"),
                                   std::string("Bearer+S3CRET%2F%22%5Cx-ABC+def")}) {
        INFO(url);
        CHECK(r.redact("Location: /body?t=" + url + "&n=1") == "Location: /body?t=[REDACTED]&n=1");
        CHECK(r.redact_json(R"({"location":"/body?t=)" + url + R"("})") ==
              R"({"location":"/body?t=[REDACTED]"})");
    }
    // A value with nothing to encode adds no forms: ordinary text stays as it is.
    Redactor plain;
    plain.add("abcdef123");
    CHECK(plain.redact("x=abcdef123&y=abcdef12%33") == "x=[REDACTED]&y=abcdef12%33");
}

TEST_CASE("credential headers are known by name, in any case", "[secrets]") {
    for (const char* name : {"Authorization", "authorization", "PROXY-AUTHORIZATION", "Cookie",
                             "set-cookie", "X-API-Key", "Api-Key", "x-auth-token"})
        CHECK(ferry::is_credential_header(name));
    for (const char* name : {"Content-Type", "Accept", "X-Request-Id", "Authorizations", "", "api"})
        CHECK_FALSE(ferry::is_credential_header(name));
}

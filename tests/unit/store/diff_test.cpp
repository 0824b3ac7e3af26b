#include "store/diff.h"

#include <catch2/catch.hpp>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <optional>
#include <random>
#include <vector>

using namespace ferry::store;

namespace {

rapidjson::Document parse(const std::string& text) {
    rapidjson::Document d;
    d.Parse(text.c_str());
    REQUIRE_FALSE(d.HasParseError());
    return d;
}

std::string to_text(const rapidjson::Value& v) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    v.Accept(w);
    return buffer.GetString();
}

// Applies a patch text to a document text; nullopt when the patch fails.
std::optional<std::string> apply_patch(const std::string& doc_text, const std::string& patch_text) {
    rapidjson::Document doc = parse(doc_text);
    rapidjson::Document patch = parse(patch_text);
    std::string before = to_text(doc);
    if (!apply_json_patch(doc, patch)) {
        CHECK(to_text(doc) == before);  // a failed patch leaves the document as it was
        return std::nullopt;
    }
    return to_text(doc);
}

// Random JSON, bounded in depth and width. Keys come from a small set so that documents
// share members, and include the characters RFC 6901 escapes.
void random_value(rapidjson::Value& out, rapidjson::Document::AllocatorType& alloc,
                  std::mt19937& rng, int depth) {
    static const char* keys[] = {"a", "b", "c/d", "~e", "f~1", "", "g~0/", "h"};
    int kind = static_cast<int>(rng() % (depth > 0 ? 7 : 5));
    switch (kind) {
    case 0: out.SetNull(); break;
    case 1: out.SetBool(rng() % 2); break;
    case 2: out.SetInt(static_cast<int>(rng() % 5)); break;
    case 3: out.SetDouble(static_cast<double>(rng() % 100) / 4.0); break;
    case 4: {
        std::string s(1 + rng() % 3, static_cast<char>('x' + rng() % 3));
        out.SetString(s.c_str(), static_cast<rapidjson::SizeType>(s.size()), alloc);
        break;
    }
    case 5: {
        out.SetObject();
        int n = static_cast<int>(rng() % 5);
        for (int i = 0; i < n; ++i) {
            const char* k = keys[rng() % 8];
            if (out.HasMember(k)) continue;
            rapidjson::Value v;
            random_value(v, alloc, rng, depth - 1);
            out.AddMember(rapidjson::Value(k, alloc), v, alloc);
        }
        break;
    }
    default: {
        out.SetArray();
        int n = static_cast<int>(rng() % 5);
        for (int i = 0; i < n; ++i) {
            rapidjson::Value v;
            random_value(v, alloc, rng, depth - 1);
            out.PushBack(v, alloc);
        }
        break;
    }
    }
}

// A variant of v: each node is kept, mutated or replaced at random, so the two documents
// share structure (the interesting case for a diff).
void mutate(rapidjson::Value& v, rapidjson::Document::AllocatorType& alloc, std::mt19937& rng,
            int depth) {
    if (rng() % 6 == 0) {
        random_value(v, alloc, rng, depth);
        return;
    }
    if (v.IsObject()) {
        for (auto m = v.MemberBegin(); m != v.MemberEnd(); ++m)
            mutate(m->value, alloc, rng, depth - 1);
        if (rng() % 3 == 0 && v.MemberCount() > 0) v.EraseMember(v.MemberBegin());
        if (rng() % 3 == 0) {
            rapidjson::Value extra;
            random_value(extra, alloc, rng, depth - 1);
            std::string k = "new" + std::to_string(rng() % 3);
            if (!v.HasMember(k.c_str()))
                v.AddMember(rapidjson::Value(k.c_str(), alloc), extra, alloc);
        }
    } else if (v.IsArray()) {
        for (auto& e : v.GetArray())
            mutate(e, alloc, rng, depth - 1);
        if (rng() % 3 == 0 && !v.Empty()) v.PopBack();
        if (rng() % 3 == 0) {
            rapidjson::Value extra;
            random_value(extra, alloc, rng, depth - 1);
            v.PushBack(extra, alloc);
        }
    }
}

}  // namespace

TEST_CASE("json_patch: simple operations and their order", "[diff][patch]") {
    CHECK(json_patch(std::string(R"({"a":1,"b":[1,2]})"), std::string(R"({"b":[1,2],"a":1})")) ==
          "[]");
    CHECK(json_patch(std::string("1"), std::string("1.0")) == "[]");  // equal numbers
    CHECK(json_patch(std::string(R"({"a":1,"b":2})"), std::string(R"({"a":3,"c":4})")) ==
          R"([{"op":"replace","path":"/a","value":3},{"op":"remove","path":"/b"},)"
          R"({"op":"add","path":"/c","value":4}])");
    // Arrays: by index, trailing removes from the end down, trailing adds upwards.
    CHECK(json_patch(std::string("[1,2,3,4]"), std::string("[1,5]")) ==
          R"([{"op":"replace","path":"/1","value":5},{"op":"remove","path":"/3"},)"
          R"({"op":"remove","path":"/2"}])");
    CHECK(json_patch(std::string("[1]"), std::string("[1,[2],{}]")) ==
          R"([{"op":"add","path":"/1","value":[2]},{"op":"add","path":"/2","value":{}}])");
    // A change of type, and the whole document.
    CHECK(json_patch(std::string(R"({"a":{"b":1}})"), std::string(R"({"a":[1]})")) ==
          R"([{"op":"replace","path":"/a","value":[1]}])");
    CHECK(json_patch(std::string("{}"), std::string("[]")) ==
          R"([{"op":"replace","path":"","value":[]}])");
    // Unparsable text is a JSON string holding it.
    CHECK(json_patch(std::string("not json"), std::string("not json")) == "[]");
    CHECK(json_patch(std::string("not json"), std::string(R"({"a":1})")) ==
          R"([{"op":"replace","path":"","value":{"a":1}}])");
    CHECK(json_patch(std::string(R"({"a":1})"), std::string("{oops")) ==
          R"([{"op":"replace","path":"","value":"{oops"}])");
}

TEST_CASE("json_patch: pointers are escaped per RFC 6901", "[diff][patch]") {
    std::string before = R"({"a/b":1,"m~n":2,"~1":3,"":{"x y":4}})";
    std::string after = R"({"a/b":2,"~1":3,"":{"x y":5}})";
    std::string patch = json_patch(before, after);
    CHECK(patch == R"([{"op":"replace","path":"/a~1b","value":2},)"
                   R"({"op":"remove","path":"/m~0n"},)"
                   R"({"op":"replace","path":"//x y","value":5}])");
    CHECK(json_patch(std::string(R"({"~1":1})"), std::string(R"({"~1":2})")) ==
          R"([{"op":"replace","path":"/~01","value":2}])");
    CHECK(apply_patch(before, patch) == to_text(parse(after)));
}

TEST_CASE("apply_json_patch: RFC 6902 operations", "[diff][patch]") {
    // Appendix A of RFC 6902.
    CHECK(apply_patch(R"({"foo":"bar"})", R"([{"op":"add","path":"/baz","value":"qux"}])") ==
          R"({"foo":"bar","baz":"qux"})");
    CHECK(apply_patch(R"({"foo":["bar","baz"]})",
                      R"([{"op":"add","path":"/foo/1","value":"qux"}])") ==
          R"({"foo":["bar","qux","baz"]})");
    CHECK(apply_patch(R"({"baz":"qux","foo":"bar"})", R"([{"op":"remove","path":"/baz"}])") ==
          R"({"foo":"bar"})");
    CHECK(apply_patch(R"({"foo":["bar","qux","baz"]})", R"([{"op":"remove","path":"/foo/1"}])") ==
          R"({"foo":["bar","baz"]})");
    CHECK(apply_patch(R"({"baz":"qux","foo":"bar"})",
                      R"([{"op":"replace","path":"/baz","value":"boo"}])") ==
          R"({"baz":"boo","foo":"bar"})");
    CHECK(apply_patch(R"({"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}})",
                      R"([{"op":"move","from":"/foo/waldo","path":"/qux/thud"}])") ==
          R"({"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}})");
    CHECK(apply_patch(R"({"foo":["all","grass","cows","eat"]})",
                      R"([{"op":"move","from":"/foo/1","path":"/foo/3"}])") ==
          R"({"foo":["all","cows","eat","grass"]})");
    CHECK(apply_patch(R"({"baz":"qux","foo":["a",2,"c"]})",
                      R"([{"op":"test","path":"/baz","value":"qux"},)"
                      R"({"op":"test","path":"/foo/1","value":2}])") ==
          R"({"baz":"qux","foo":["a",2,"c"]})");
    CHECK_FALSE(apply_patch(R"({"baz":"qux"})", R"([{"op":"test","path":"/baz","value":"bar"}])"));
    CHECK(apply_patch(R"({"foo":"bar"})",
                      R"([{"op":"add","path":"/child","value":{"grandchild":{}}}])") ==
          R"({"foo":"bar","child":{"grandchild":{}}})");
    CHECK_FALSE(
        apply_patch(R"({"foo":"bar"})", R"([{"op":"add","path":"/baz/bat","value":"qux"}])"));
    CHECK(apply_patch(R"({"/":9,"~1":10})", R"([{"op":"test","path":"/~01","value":10}])"));
    CHECK_FALSE(apply_patch(R"({"/":9,"~1":10})", R"([{"op":"test","path":"/~01","value":"10"}])"));
    CHECK(apply_patch(R"({"foo":["bar"]})",
                      R"([{"op":"add","path":"/foo/-","value":["abc","def"]}])") ==
          R"({"foo":["bar",["abc","def"]]})");

    // More: copy, whole-document operations, numbers compared by value.
    CHECK(apply_patch(R"({"a":{"b":[1]}})", R"([{"op":"copy","from":"/a","path":"/c"}])") ==
          R"({"a":{"b":[1]},"c":{"b":[1]}})");
    CHECK(apply_patch(R"({"a":1})", R"([{"op":"replace","path":"","value":[1]}])") == "[1]");
    CHECK(apply_patch(R"({"a":1})", R"([{"op":"add","path":"","value":null}])") == "null");
    CHECK(apply_patch(R"({"a":1})", R"([{"op":"test","path":"/a","value":1.0}])"));
    CHECK(apply_patch(R"({"a":1})", R"([{"op":"move","from":"/a","path":"/a"}])") == R"({"a":1})");
    CHECK(apply_patch(R"({"a":1,"b":2,"c":3})", R"([{"op":"replace","path":"/a","value":0}])") ==
          R"({"a":0,"b":2,"c":3})");  // replace keeps the member order
    CHECK(apply_patch(R"([1,2])", R"([{"op":"add","path":"/2","value":3}])") == "[1,2,3]");
    CHECK(apply_patch("[]", "[]") == "[]");
}

TEST_CASE("apply_json_patch: malformed patches fail and change nothing", "[diff][patch]") {
    const std::string doc = R"({"a":{"b":[1,2]},"c":"x"})";
    const char* bad[] = {
        R"({"op":"add","path":"/z","value":1})",           // not an array
        R"([{"op":"remove","path":"/zz"}])",               // missing member
        R"([{"op":"remove","path":"/a/b/2"}])",            // index out of range
        R"([{"op":"remove","path":"/a/b/01"}])",           // leading zero
        R"([{"op":"remove","path":"/a/b/-"}])",            // "-" names no element
        R"([{"op":"add","path":"/a/b/3","value":1}])",     // past the end
        R"([{"op":"add","path":"a","value":1}])",          // no leading slash
        R"([{"op":"add","path":"/a/~2","value":1}])",      // bad escape
        R"([{"op":"add","path":"/a/~","value":1}])",       // bad escape
        R"([{"op":"add","path":"/c/d","value":1}])",       // into a string
        R"([{"op":"add","path":"/d"}])",                   // no value
        R"([{"op":"replace","path":"/zz","value":1}])",    // replace needs a target
        R"([{"op":"move","from":"/a","path":"/a/b/0"}])",  // into its own child
        R"([{"op":"move","path":"/x"}])",                  // no from
        R"([{"op":"copy","from":"/nope","path":"/x"}])",   // missing from
        R"([{"op":"frobnicate","path":"/a"}])",            // unknown op
        R"([{"path":"/a"}])",                              // no op
        R"([{"op":"remove","path":""}])",                  // the document itself
        R"([{"op":"remove","path":5}])",                   // path not a string
        R"([1])",                                          // operation not an object
        // the first operation succeeds, the second fails: nothing is applied
        R"([{"op":"add","path":"/new","value":1},{"op":"test","path":"/c","value":"y"}])",
    };
    for (const char* patch : bad) {
        INFO(patch);
        CHECK_FALSE(apply_patch(doc, patch).has_value());
    }
}

TEST_CASE("json_patch: large objects give the patch small ones do", "[diff][patch]") {
    // Past 32 members, members are matched through a hash index (a scan made diffing two
    // CMDB snapshots O(n^2)). The patch must be the one the scan gives: a's members in
    // order (replace or remove), then b's new ones in order; a repeated name matches the
    // first member of that name, as FindMember does.
    std::mt19937 rng(20261203);
    for (int round = 0; round < 50; ++round) {
        const int n = 33 + int(rng() % 200);
        std::string a = "{", b = "{";
        std::vector<std::pair<std::string, int>> in_a, in_b;
        for (int i = 0; i < n; ++i) {
            std::string name = "k" + std::to_string(i) + (i % 7 == 0 ? "/~" : "");
            if (rng() % 5) in_a.emplace_back(name, int(rng() % 3));
            if (rng() % 5) in_b.emplace_back(name, int(rng() % 3));
        }
        in_a.emplace_back("dup", 1);
        in_a.emplace_back("dup", 2);
        in_b.emplace_back("dup", 1);
        in_b.emplace_back("dup", 3);
        std::shuffle(in_b.begin(), in_b.end(), rng);
        for (auto& [members, text] : {std::pair{&in_a, &a}, std::pair{&in_b, &b}}) {
            for (const auto& [name, value] : *members)
                *text += (text->size() > 1 ? ",\"" : "\"") + name + "\":" + std::to_string(value);
            *text += "}";
        }
        auto first = [](const std::vector<std::pair<std::string, int>>& members,
                        const std::string& name) -> const int* {
            for (const auto& [n, v] : members)
                if (n == name) return &v;
            return nullptr;
        };
        auto pointer = [](std::string name) {
            std::string out = "/";
            for (char c : name)
                out += c == '~' ? "~0" : c == '/' ? "~1" : std::string(1, c);
            return out;
        };
        std::string expected = "[";
        auto op = [&](const std::string& text) {
            expected += (expected.size() > 1 ? "," : "") + text;
        };
        for (const auto& [name, value] : in_a) {
            const int* other = first(in_b, name);
            if (!other)
                op(R"({"op":"remove","path":")" + pointer(name) + "\"}");
            else if (*other != value)
                op(R"({"op":"replace","path":")" + pointer(name) +
                   "\",\"value\":" + std::to_string(*other) + "}");
        }
        for (const auto& [name, value] : in_b)
            if (!first(in_a, name))
                op(R"({"op":"add","path":")" + pointer(name) +
                   "\",\"value\":" + std::to_string(value) + "}");
        expected += "]";
        INFO("before " << a << "\nafter " << b);
        CHECK(json_patch(a, b) == expected);
    }
}

TEST_CASE("json_patch: random documents round-trip through apply", "[diff][patch]") {
    std::mt19937 rng(20240601);
    for (int round = 0; round < 2000; ++round) {
        rapidjson::Document before;
        random_value(before, before.GetAllocator(), rng, 4);
        rapidjson::Document after;
        after.CopyFrom(before, after.GetAllocator());
        if (round % 10 == 0)
            random_value(after, after.GetAllocator(), rng, 4);
        else
            mutate(after, after.GetAllocator(), rng, 4);

        std::string patch = json_patch(before, after);
        INFO("before " << to_text(before) << "\nafter " << to_text(after) << "\npatch " << patch);
        rapidjson::Document p = parse(patch);
        REQUIRE(p.IsArray());
        rapidjson::Document patched;
        patched.CopyFrom(before, patched.GetAllocator());
        REQUIRE(apply_json_patch(patched, p));
        // Equal as JSON; member order may differ (a patch cannot reorder members).
        CHECK(patched == after);
        CHECK(json_patch(patched, after) == "[]");
        if (before == after) CHECK(patch == "[]");
    }
}

// ---- unified_diff ----

namespace {

// diff -u with fixed labels, when /usr/bin/diff exists.
std::optional<std::string> gnu_diff(const std::string& a, const std::string& b) {
    if (::access("/usr/bin/diff", X_OK) != 0) return std::nullopt;
    char dir_template[] = "/tmp/ferry-diff-test-XXXXXX";
    if (!::mkdtemp(dir_template)) return std::nullopt;
    std::string dir = dir_template;
    std::ofstream(dir + "/a", std::ios::binary) << a;
    std::ofstream(dir + "/b", std::ios::binary) << b;
    std::string cmd = "/usr/bin/diff -u --label a --label b " + dir + "/a " + dir + "/b";
    std::string out;
    if (FILE* p = ::popen(cmd.c_str(), "r")) {
        char buf[4096];
        size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
            out.append(buf, n);
        ::pclose(p);
    }
    std::remove((dir + "/a").c_str());
    std::remove((dir + "/b").c_str());
    ::rmdir(dir.c_str());
    return out;
}

// Applies a unified diff to a, checking every context and removed line; the result should
// be b. A check that the hunks are right whatever alignment the diff chose.
std::string patch_text(const std::string& a, const std::string& diff) {
    std::vector<std::string> lines;  // a's lines, with their newline
    for (size_t s = 0; s < a.size();) {
        size_t e = a.find('\n', s);
        e = e == std::string::npos ? a.size() : e + 1;
        lines.push_back(a.substr(s, e - s));
        s = e;
    }
    std::vector<std::string> d;
    for (size_t s = 0; s < diff.size();) {
        size_t e = diff.find('\n', s);
        d.push_back(diff.substr(s, e - s));
        s = e + 1;
    }
    std::string out;
    size_t next = 0;  // next line of a not yet copied
    char previous = 0;
    for (size_t i = 2; i < d.size(); ++i) {
        const std::string& l = d[i];
        if (l.rfind("@@ -", 0) == 0) {
            size_t start = std::stoul(l.substr(4));
            size_t count = 1;
            size_t comma = l.find(',');
            if (comma != std::string::npos && comma < l.find(' ', 4))
                count = std::stoul(l.substr(comma + 1));
            size_t first = count == 0 ? start : start - 1;
            for (; next < first; ++next)
                out += lines[next];
            continue;
        }
        if (l == "\\ No newline at end of file") {
            // The line before had no newline: take back the one given to it in out.
            if (previous == ' ' || previous == '+') out.pop_back();
            continue;
        }
        REQUIRE_FALSE(l.empty());
        previous = l[0];
        std::string body = l.substr(1) + "\n";
        if (l[0] == ' ' || l[0] == '-') {
            REQUIRE(next < lines.size());
            std::string expect = lines[next];
            if (expect.back() != '\n') expect += '\n';
            REQUIRE(body == expect);
            ++next;
        }
        if (l[0] == ' ' || l[0] == '+') out += body;
    }
    for (; next < lines.size(); ++next)
        out += lines[next];
    return out;
}

}  // namespace

TEST_CASE("unified_diff: fixed cases", "[diff][unified]") {
    CHECK(unified_diff("same\n", "same\n", "a", "b").empty());
    CHECK(unified_diff("", "", "a", "b").empty());

    CHECK(unified_diff("1\n2\n3\n4\n5\n", "1\n2\nthree\n4\n5\n", "old.yaml", "new.yaml") ==
          "--- old.yaml\n+++ new.yaml\n@@ -1,5 +1,5 @@\n 1\n 2\n-3\n+three\n 4\n 5\n");
    CHECK(unified_diff("", "x\ny\n", "a", "b") == "--- a\n+++ b\n@@ -0,0 +1,2 @@\n+x\n+y\n");
    CHECK(unified_diff("x\n", "", "a", "b") == "--- a\n+++ b\n@@ -1 +0,0 @@\n-x\n");
    CHECK(unified_diff("a\nb", "a\nc", "a", "b") ==
          "--- a\n+++ b\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n"
          "\\ No newline at end of file\n");
    // Only the final newline differs.
    CHECK(unified_diff("a\nb\n", "a\nb", "a", "b") ==
          "--- a\n+++ b\n@@ -1,2 +1,2 @@\n a\n-b\n+b\n\\ No newline at end of file\n");
    // A last line without newline that is only context.
    CHECK(unified_diff("x\ny\nz", "X\ny\nz", "a", "b") ==
          "--- a\n+++ b\n@@ -1,3 +1,3 @@\n-x\n+X\n y\n z\n\\ No newline at end of file\n");

    // Two changes 7 lines apart make two hunks; 6 apart, one.
    std::string base, far, near;
    for (int i = 1; i <= 20; ++i)
        base += std::to_string(i) + "\n";
    far = base;
    far.replace(far.find("2\n"), 2, "two\n");
    far.replace(far.find("\n10\n") + 1, 3, "ten\n");
    CHECK(unified_diff(base, far, "a", "b") ==
          "--- a\n+++ b\n@@ -1,5 +1,5 @@\n 1\n-2\n+two\n 3\n 4\n 5\n"
          "@@ -7,7 +7,7 @@\n 7\n 8\n 9\n-10\n+ten\n 11\n 12\n 13\n");
    near = base;
    near.replace(near.find("2\n"), 2, "two\n");
    near.replace(near.find("\n9\n") + 1, 2, "nine\n");
    CHECK(unified_diff(base, near, "a", "b") ==
          "--- a\n+++ b\n@@ -1,12 +1,12 @@\n 1\n-2\n+two\n 3\n 4\n 5\n 6\n 7\n 8\n-9\n+nine\n"
          " 10\n 11\n 12\n");
}

TEST_CASE("unified_diff: matches diff -u", "[diff][unified]") {
    std::vector<std::pair<std::string, std::string>> cases = {
        {"1\n2\n3\n4\n5\n", "1\n2\nthree\n4\n5\n"},
        {"a\nb", "a\nc"},
        {"a\nb\n", "a\nb"},
        {"", "only\n"},
        {"gone\n", ""},
        {"name: wf\nsteps:\n  - id: a\n    task: log\n  - id: b\n    task: sleep\n",
         "name: wf\nsteps:\n  - id: a\n    task: log\n    with: {message: hi}\n  - id: b\n"
         "    task: sleep\n"},
    };
    {
        std::string a, b;
        for (int i = 0; i < 40; ++i) {
            a += "line " + std::to_string(i) + "\n";
            if (i == 3) b += "inserted\n";
            if (i != 20 && i != 21) b += "line " + std::to_string(i) + "\n";
            if (i == 35) b += "changed 35\n";
        }
        cases.emplace_back(a, b);
    }
    for (const auto& [a, b] : cases) {
        auto expected = gnu_diff(a, b);
        if (!expected) {
            WARN("/usr/bin/diff not found: comparison skipped");
            return;
        }
        INFO("a:\n" << a << "\nb:\n" << b);
        CHECK(unified_diff(a, b, "a", "b") == *expected);
        CHECK(patch_text(a, unified_diff(a, b, "a", "b")) == b);
    }
}

TEST_CASE("unified_diff: random texts are minimal and apply", "[diff][unified]") {
    std::mt19937 rng(7);
    bool have_diff = ::access("/usr/bin/diff", X_OK) == 0;
    auto random_text = [&](size_t max_lines) {
        std::string t;
        size_t n = rng() % (max_lines + 1);
        for (size_t i = 0; i < n; ++i)
            t += std::string(1, static_cast<char>('a' + rng() % 4)) + "\n";
        if (!t.empty() && rng() % 5 == 0) t.pop_back();
        return t;
    };
    auto count = [](const std::string& d, char mark) {
        int n = 0;
        for (size_t s = 0; s < d.size();) {
            size_t e = d.find('\n', s);
            if (d[s] == mark && d.compare(s, 4, std::string(3, mark) + " ") != 0) ++n;
            s = e + 1;
        }
        return n;
    };
    for (int round = 0; round < (have_diff ? 300 : 1000); ++round) {
        std::string a = random_text(15), b = random_text(15);
        std::string ours = unified_diff(a, b, "a", "b");
        INFO("a:\n" << a << "\nb:\n" << b << "\nours:\n" << ours);
        CHECK(patch_text(a, ours) == b);
        CHECK(ours.empty() == (a == b));
        if (have_diff) {
            // Both are minimal: the same number of removed and added lines, even when the
            // two pick different (equally short) alignments.
            std::string gnu = *gnu_diff(a, b);
            INFO("gnu:\n" << gnu);
            CHECK(count(ours, '-') == count(gnu, '-'));
            CHECK(count(ours, '+') == count(gnu, '+'));
        }
    }
}

TEST_CASE("change_with_patch: the patch is derived from before and after, spliced in before them",
          "[diff][changes]") {
    // A creation: the patch replaces the whole (null) document with the record.
    CHECK(
        change_with_patch(
            R"({"step":"t","kind":"servicenow:incident","id":"INC1","at":"2026-12-03T00:00:00Z","before":null,"after":{"number":"INC1","d":"a\"b"}})") ==
        R"({"step":"t","kind":"servicenow:incident","id":"INC1","at":"2026-12-03T00:00:00Z","patch":[{"op":"replace","path":"","value":{"number":"INC1","d":"a\"b"}}],"before":null,"after":{"number":"INC1","d":"a\"b"}})");
    // An update: only what changed.
    CHECK(
        change_with_patch(
            R"({"step":"u","kind":"k","id":"1","at":"x","before":{"a":1,"b":2},"after":{"a":1,"b":3}})") ==
        R"({"step":"u","kind":"k","id":"1","at":"x","patch":[{"op":"replace","path":"/b","value":3}],"before":{"a":1,"b":2},"after":{"a":1,"b":3}})");
    // A member before "before" whose text holds ,"before": cannot mislead the splice.
    std::string tricky =
        R"({"step":"s","kind":"k","id":"a,\"before\":1","at":"x","before":{},"after":{"n":1}})";
    CHECK(
        change_with_patch(tricky) ==
        R"({"step":"s","kind":"k","id":"a,\"before\":1","at":"x","patch":[{"op":"add","path":"/n","value":1}],"before":{},"after":{"n":1}})");
}

TEST_CASE("change_with_patch: records that hold a patch, or other objects, are left as they are",
          "[diff][changes]") {
    const std::string stored =
        R"({"step":"t","kind":"k","id":"1","at":"x","patch":[],"before":null,"after":null})";
    CHECK(change_with_patch(stored) == stored);
    const std::string other = R"({"x":1,"before":2})";
    CHECK(change_with_patch(other) == other);
    // A record that is no JSON object is damaged: the reader reports it rather than splice
    // it into an export or an answer.
    for (std::string damaged : {std::string("a1"), std::string(R"([{"op":"add"}])"),
                                std::string(R"({"before":)"), std::string(R"([{"step":"t"})")})
        CHECK_FALSE(change_with_patch(damaged));
}

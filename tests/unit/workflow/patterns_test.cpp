// Input patterns: searched as code points, at a cost bounded by a budget.
#include "workflow/patterns.h"

#include <catch2/catch.hpp>

#include <string>

using namespace ferry::workflow;

namespace {

PatternMatch search(const std::string& pattern, const std::string& text) {
    PatternBudget budget;
    return search_pattern(pattern, text, budget);
}

}  // namespace

TEST_CASE("patterns are searched in the value, as code points", "[workflow][patterns]") {
    CHECK(search("[0-9]{3}", "ab123") == PatternMatch::Found);
    CHECK(search("^[0-9]{3}$", "ab123") == PatternMatch::NotFound);
    CHECK(search("^.{1,3}$", "äbc") == PatternMatch::Found);
    CHECK(search("^[^ä]$", "ö") == PatternMatch::Found);
    CHECK(search("[a-", "x") == PatternMatch::Invalid);
    std::string error;
    CHECK_FALSE(is_valid_pattern("(a)\\1", &error));
    CHECK(error == "back-references (\\1) are not supported: values are matched without "
                   "backtracking");
}

TEST_CASE("a pattern that tries too many ways through a value is stopped, not waited for",
          "[workflow][patterns]") {
    // Nested counted repetitions split 16 KB of letters so many ways that the matcher took
    // 10 s here; a lookahead restarts a search at every character (5 s on 8 KB).
    const std::string nested = "^([A-Za-z0-9 ,.-]{1,200}\\n?){1,100}$";
    PatternBudget budget;
    CHECK(search_pattern(nested, std::string(16'000, 'a') + "!", budget) ==
          PatternMatch::TooCostly);
    CHECK(budget.steps_left == 0);
    // The same value gets the same answer every time: the cost is counted, not timed.
    CHECK(search(nested, std::string(16'000, 'a') + "!") == PatternMatch::TooCostly);
    CHECK(search("(?=.*\\d).{8,}", std::string(8'000, 'a')) == PatternMatch::TooCostly);
    // Short values of the same patterns are decided as ever.
    CHECK(search(nested, "a short line, with words.\nand a second") == PatternMatch::Found);
    CHECK(search(nested, "not allowed: !") == PatternMatch::NotFound);
    CHECK(search("(?=.*\\d).{8,}", "passw0rd") == PatternMatch::Found);
    CHECK(search("(?=.*\\d).{8,}", "password") == PatternMatch::NotFound);
}

TEST_CASE("ordinary patterns on long values stay within the budget", "[workflow][patterns]") {
    // Anchored bounded repetitions keep one state alive a character, however large the
    // bound (a common "no angle brackets" rule, a host name): a few steps a character.
    CHECK(search("^[^<>]{0,5000}$", std::string(5'000, 'a')) == PatternMatch::Found);
    CHECK(search("^[^<>]{0,5000}$", std::string(5'001, 'a')) == PatternMatch::NotFound);
    CHECK(search("^([a-zA-Z0-9-]{1,63}\\.){1,126}[a-zA-Z]{2,63}$", "www.example.co.uk") ==
          PatternMatch::Found);
    CHECK(search("^(a|b)*$", std::string(16'000, 'a')) == PatternMatch::Found);
    CHECK(search("a+c", std::string(16'000, 'a')) == PatternMatch::NotFound);
    CHECK(search("^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$", std::string(16'000, 'x') + "@example.org") ==
          PatternMatch::Found);
}

TEST_CASE("one budget is shared by the checks it is given to", "[workflow][patterns]") {
    // A list of many values costs no more than one long one: each check spends from it.
    const std::string nested = "^([a-z ]{1,50}\\n?){1,20}$";
    PatternBudget budget;
    int decided = 0;
    PatternMatch last = PatternMatch::Found;
    for (int i = 0; i < 10'000 && last != PatternMatch::TooCostly; ++i) {
        last = search_pattern(nested, std::string(900, 'a') + "!", budget);
        if (last != PatternMatch::TooCostly) ++decided;
    }
    CHECK(last == PatternMatch::TooCostly);
    CHECK(decided > 0);
    CHECK(decided < 10'000);
    // Spent: even a value that costs nothing is not checked with it any more.
    CHECK(search_pattern("^a$", "a", budget) == PatternMatch::TooCostly);
    PatternBudget fresh;
    CHECK(search_pattern("^a$", "a", fresh) == PatternMatch::Found);
}

// Input patterns: ECMAScript regular expressions, searched in a value as JSON Schema's
// "pattern" is, compiled once per process and matched at a bounded cost.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ferry::workflow {

// Whether `pattern` is a regular expression an input or a form field may have: ECMAScript
// as std::regex reads it, less back-references (values are matched without backtracking).
// error, when given, says what is wrong.
bool is_valid_pattern(const std::string& pattern, std::string* error);

// What one set of values' pattern checks may cost, counted in the matcher's character
// comparisons: about 0.5 s of one core here. A match costs the value's length times the
// states the pattern keeps alive at once, which nested counted repetitions or a lookahead
// make thousands (`^([a-z ]{1,200}\n?){1,100}$` held the loop 10 s on 16 KB, on a public
// form's submit); ordinary patterns keep a few alive and spend a few steps a character.
// Counting rather than timing gives the same answer for the same value on any machine.
constexpr int64_t kPatternCheckSteps = 10'000'000;

// Shared by the checks of one set of values (one start's inputs, one form submission's
// fields, one execution tree's sub-workflow starts), so that a list of many values costs
// no more than one long one. (Compiling is not counted: patterns come from the project's
// files, are compiled once when loaded, and the compiler refuses a pattern that expands
// past its state limit.)
struct PatternBudget {
    int64_t steps_left = kPatternCheckSteps;
};

enum class PatternMatch {
    Found,
    NotFound,
    Invalid,    // the pattern does not compile (a loaded file's patterns always do)
    TooCostly,  // the budget ran out before the matcher decided
};

// Whether pattern occurs in utf8 (anchor with ^ and $ to match all of it), matched as code
// points. Spends from budget; once it is spent, every further check is TooCostly.
PatternMatch search_pattern(const std::string& pattern, std::string_view utf8,
                            PatternBudget& budget);

}  // namespace ferry::workflow

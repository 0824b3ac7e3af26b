// Input patterns: compiled with libstdc++'s <regex> and matched through an iterator that
// counts the matcher's steps (patterns.h).
#include "workflow/patterns.h"

#include "template/value.h"
#include "workflow/loader.h"

#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <unordered_map>

namespace ferry::workflow {
namespace detail {
namespace {

// Patterns and values are matched as code points, as JSON Schema (and a browser's pattern
// attribute) match them: over UTF-8 bytes ".{1,3}" refused "äbc" and "[^ä]" refused "ö"
// (whose first byte ä shares). wchar_t holds a code point on every platform Ferry targets.
static_assert(sizeof(wchar_t) == 4, "patterns are matched over UTF-32 wchar_t");
std::wstring code_points(std::string_view utf8) {
    std::u32string decoded = tmpl::utf8_decode(utf8);
    return std::wstring(decoded.begin(), decoded.end());
}

// Whether pattern is refused only for what the polynomial mode lacks (back-references):
// libstdc++ words that in its own terms ("in polynomial mode").
bool refused_only_by_polynomial_mode(const std::string& pattern) {
    try {
        [[maybe_unused]] std::wregex backtracking(code_points(pattern), std::regex::ECMAScript);
        return true;
    } catch (const std::regex_error&) {
        return false;
    }
}

// libstdc++'s default regex executor recurses once per input character and overflows the
// stack on long strings (tens of kilobytes; a few thousand under ASan). The polynomial mode
// runs a breadth-first NFA instead: bounded stack, no catastrophic backtracking (its cost,
// the length times the states alive, is what the budget bounds). Its price is no
// back-references, which input patterns do not need.
// libstdc++ also compiles a pattern recursively, a frame per term: 40,000 characters
// overflowed the stack (a SIGSEGV in validate, run and serve). Patterns that check an input
// are short; a long one is refused before it is compiled.
constexpr size_t kMaxPatternChars = 1000;

std::optional<std::wregex> compile_pattern(const std::string& pattern, std::string* error,
                                           size_t max_chars = kMaxPatternChars) {
    if (pattern.size() > max_chars && code_points(pattern).size() > max_chars) {
        if (error)
            *error = "longer than " + std::to_string(kMaxPatternChars) +
                     " characters (patterns that long are compiled too deep to be safe)";
        return std::nullopt;
    }
    try {
        return std::wregex(code_points(pattern),
                           std::regex::ECMAScript | std::regex_constants::__polynomial);
    } catch (const std::regex_error& e) {
        if (error) {
            // libstdc++'s own words for this ask to rebuild it with a larger limit.
            *error = e.code() == std::regex_constants::error_space
                         ? "too complex (its repetitions expand past what can be compiled)"
                         : e.what();
        }
    }
    if (error && refused_only_by_polynomial_mode(pattern))
        *error = "back-references (\\1) are not supported: values are matched without "
                 "backtracking";
    return std::nullopt;
}

// The search form of a pattern, compiled once per process: compiling costs ~50 times a
// match (190 µs against 4 µs for an e-mail pattern), and every start checks its inputs.
// Patterns come from workflow files and forms, so there are few; the cache is still bounded
// (emptied when full) for a project that edits them under a running server. Null: the
// pattern does not compile.
std::shared_ptr<const std::wregex> compiled_search(const std::string& pattern) {
    constexpr size_t kMaxCached = 256;
    static std::mutex mutex;
    static std::unordered_map<std::string, std::shared_ptr<const std::wregex>> cache;
    {
        std::lock_guard<std::mutex> lock(mutex);
        if (auto it = cache.find(pattern); it != cache.end()) return it->second;
    }
    std::shared_ptr<const std::wregex> compiled;
    // Checked alone first, so that no pattern passes only inside the wrapper ("a)|(b").
    if (compile_pattern(pattern, nullptr)) {
        // std::regex_search restarts the NFA at every position, which is quadratic (a 20 KB
        // input takes seconds); a full match of [\s\S]*(?:P)[\s\S]* finds the same in one
        // linear pass.
        if (auto re = compile_pattern("[\\s\\S]*(?:" + pattern + ")[\\s\\S]*", nullptr,
                                      kMaxPatternChars + 32))
            compiled = std::make_shared<const std::wregex>(std::move(*re));
    }
    std::lock_guard<std::mutex> lock(mutex);
    if (cache.size() >= kMaxCached) cache.clear();
    cache.emplace(pattern, compiled);
    return compiled;
}

struct BudgetSpent {};

// A pointer into the value that charges the budget for each character the matcher reads:
// libstdc++'s executor reads the current character once per state it tries there (and a
// lookahead's inner executor reads through copies of it), so the count follows the
// matcher's work. Running out throws out of std::regex_match, whose executor keeps its
// state in owning containers.
class MeteredChars {
  public:
    using iterator_category = std::bidirectional_iterator_tag;
    using value_type = wchar_t;
    using difference_type = std::ptrdiff_t;
    using pointer = const wchar_t*;
    using reference = const wchar_t&;

    MeteredChars() = default;
    MeteredChars(const wchar_t* at, PatternBudget* budget) : at_(at), budget_(budget) {}

    reference operator*() const {
        if (--budget_->steps_left < 0) throw BudgetSpent{};
        return *at_;
    }
    MeteredChars& operator++() {
        ++at_;
        return *this;
    }
    MeteredChars operator++(int) {
        MeteredChars before = *this;
        ++at_;
        return before;
    }
    MeteredChars& operator--() {
        --at_;
        return *this;
    }
    MeteredChars operator--(int) {
        MeteredChars before = *this;
        --at_;
        return before;
    }
    bool operator==(const MeteredChars& other) const { return at_ == other.at_; }

  private:
    const wchar_t* at_ = nullptr;
    PatternBudget* budget_ = nullptr;
};

}  // namespace
}  // namespace detail

PatternMatch search_pattern(const std::string& pattern, std::string_view utf8,
                            PatternBudget& budget) {
    std::shared_ptr<const std::wregex> re = detail::compiled_search(pattern);
    if (!re) return PatternMatch::Invalid;
    if (budget.steps_left <= 0) return PatternMatch::TooCostly;
    const std::wstring text = detail::code_points(utf8);
    const detail::MeteredChars begin(text.data(), &budget), end(text.data() + text.size(), &budget);
    try {
        return std::regex_match(begin, end, *re) ? PatternMatch::Found : PatternMatch::NotFound;
    } catch (const detail::BudgetSpent&) {
        budget.steps_left = 0;
        return PatternMatch::TooCostly;
    }
}

bool is_valid_pattern(const std::string& pattern, std::string* error) {
    return detail::compile_pattern(pattern, error).has_value();
}

}  // namespace ferry::workflow

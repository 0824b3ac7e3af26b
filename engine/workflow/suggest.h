// "Did you mean": the closest known name to one nobody defined, for messages about
// workflow files, ferry.yaml and the command line alike.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::workflow {

// A word longer than this gets no suggestion: no name is that long by a typo.
constexpr size_t kMaxSuggestedLength = 128;

// " (did you mean 'x'?)" for the closest candidate within a small edit distance (or the
// only one the word begins), else "".
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace ferry::workflow

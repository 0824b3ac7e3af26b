// The commit the binary was built from (engine/CMakeLists.txt writes its definition), or
// "unknown" outside a git checkout.
#pragma once

namespace ferry::cli {

extern const char* const kBuildCommit;

}  // namespace ferry::cli

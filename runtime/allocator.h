// Which process allocator this build links, for `ferry --version` (performance reports and
// bug reports need to know).
//
// glibc's malloc by default; a build with FERRY_ALLOCATOR=mimalloc links mimalloc, whose
// malloc and free take 16 % fewer of the loop's instructions (docs/performance.md) for 2.5 MB
// more idle RSS and ~4 % more memory per parked execution.
#pragma once

#include <string>

namespace ferry {

// "mimalloc 2.0.9" or "glibc malloc".
std::string allocator_name();

}  // namespace ferry

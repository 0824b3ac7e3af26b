#include "runtime/allocator.h"

#ifdef FERRY_WITH_MIMALLOC
#include <mimalloc.h>
#endif

namespace ferry {

std::string allocator_name() {
#ifdef FERRY_WITH_MIMALLOC
    int version = mi_version();  // major * 100 + minor * 10 + patch
    return "mimalloc " + std::to_string(version / 100) + "." + std::to_string(version / 10 % 10) +
           "." + std::to_string(version % 10);
#else
    return "glibc malloc";
#endif
}

}  // namespace ferry

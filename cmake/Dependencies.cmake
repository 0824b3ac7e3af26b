# Every third-party dependency comes from a Debian 12 package (see docs/dependencies.md).
# They are all found here, even those a module does not use yet, so the build is settled once.
find_package(PkgConfig REQUIRED)

# Lua 5.4 compiled as C++ (liblua5.4-dev): Lua errors unwind C++ destructors instead of longjmp.
pkg_check_modules(LUA REQUIRED IMPORTED_TARGET lua5.4-c++)
pkg_check_modules(LIBUV REQUIRED IMPORTED_TARGET libuv)
pkg_check_modules(LMDB REQUIRED IMPORTED_TARGET lmdb)
find_package(CURL REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(RapidJSON REQUIRED)
find_package(yaml-cpp REQUIRED)
# Time zones for cron schedules (libhowardhinnant-date-dev: the date library C++20's <chrono>
# time zones came from, which GCC 12 does not ship yet), reading Debian's tzdata.
find_package(date REQUIRED)

# The process allocator (docs/dependencies.md): glibc's by default; FERRY_ALLOCATOR=mimalloc
# links Debian's libmimalloc so that it replaces malloc for the whole process (Lua and libcurl
# included): a quarter more executions per second for 2.5 MB more idle RSS. A sanitizer build
# keeps glibc's malloc, which AddressSanitizer replaces itself.
set(FERRY_ALLOCATOR system CACHE STRING "Process allocator: system (glibc) or mimalloc")
set_property(CACHE FERRY_ALLOCATOR PROPERTY STRINGS system mimalloc)
if(FERRY_ALLOCATOR STREQUAL "mimalloc")
  if(FERRY_SANITIZE)
    message(FATAL_ERROR "FERRY_ALLOCATOR=mimalloc and FERRY_SANITIZE=ON exclude each other: "
                        "AddressSanitizer replaces malloc itself")
  endif()
  find_package(mimalloc 2.0 REQUIRED)
elseif(NOT FERRY_ALLOCATOR STREQUAL "system")
  message(FATAL_ERROR "FERRY_ALLOCATOR must be mimalloc or system, not '${FERRY_ALLOCATOR}'")
endif()

# libhttp-parser-dev ships no CMake or pkg-config file.
find_path(HTTP_PARSER_INCLUDE_DIR http_parser.h REQUIRED)
find_library(HTTP_PARSER_LIBRARY http_parser REQUIRED)
add_library(ferry_http_parser INTERFACE)
target_include_directories(ferry_http_parser INTERFACE ${HTTP_PARSER_INCLUDE_DIR})
target_link_libraries(ferry_http_parser INTERFACE ${HTTP_PARSER_LIBRARY})

add_library(ferry_rapidjson INTERFACE)
target_include_directories(ferry_rapidjson INTERFACE ${RAPIDJSON_INCLUDE_DIRS})
# std::string support and 64-bit-safe SIMD-free parsing; the flags must match in every unit.
target_compile_definitions(ferry_rapidjson INTERFACE RAPIDJSON_HAS_STDSTRING=1)

if(FERRY_BUILD_TESTS)
  find_package(Catch2 REQUIRED)  # Debian 12 ships Catch2 v2 (catch2/catch.hpp)
  include(Catch)
endif()

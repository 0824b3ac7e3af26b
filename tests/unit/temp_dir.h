// A scratch folder under /tmp for a unit test, removed when the test ends (its permissions
// restored first, so a test that made part of it unreadable still cleans up).
#pragma once

#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <system_error>

#include <stdlib.h>

namespace ferry::testing {

class TempDir {
  public:
    TempDir() {
        char templ[] = "/tmp/ferry-test-XXXXXX";
        REQUIRE(::mkdtemp(templ) != nullptr);
        path_ = templ;
    }
    ~TempDir() {
        namespace fs = std::filesystem;
        std::error_code ec;
        for (auto& e : fs::recursive_directory_iterator(path_, ec))
            fs::permissions(e.path(), fs::perms::owner_all, fs::perm_options::add, ec);
        fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
        fs::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::string& path() const { return path_; }
    std::string sub(const std::string& name) const { return path_ + "/" + name; }

  private:
    std::string path_;
};

}  // namespace ferry::testing

// Files built into the binary: the repository's tasks/, stdlib/ and templates/ (see
// cmake/embed.cmake). An installed ferry works from any folder; a project's own files with
// the same names win.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace ferry::engine {

struct EmbeddedFile {
    std::string_view path;  // "tasks/transform/transform.lua"
    std::string_view data;
};

std::span<const EmbeddedFile> embedded_files();
std::optional<std::string_view> embedded_file(std::string_view path);

}  // namespace ferry::engine

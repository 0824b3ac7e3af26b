// A Ferry project folder (CONTRACT.md section 1): ferry.yaml, workflows/, tasks/,
// templates/, and the data folder. Files are looked up in the project first, then among the
// files built into the binary, so a user's file with the same name wins.
#pragma once

#include "runtime/error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ferry::engine {

class Project {
  public:
    // dir: the project folder (must exist); data_dir: empty means DIR/.ferry.
    static Result<Project> open(const std::string& dir, const std::string& data_dir = {});

    const std::string& dir() const { return dir_; }
    const std::string& data_dir() const { return data_dir_; }

    // The text of a project-relative file ("tasks/x.lua"), project copy first, then the
    // embedded one. origin (when given) says which: the real path or "(built-in) PATH".
    std::optional<std::string> read(const std::string& rel, std::string* origin = nullptr) const;
    // What read(rel) would read, by stat() alone: the project file's stamp (it changes when
    // the file is written, replaced or resized), 0 for a built-in file, nullopt for none.
    std::optional<uint64_t> stamp(const std::string& rel) const;
    // Project-relative paths under folder ending with one of exts, project and built-in
    // merged (a project file shadows the built-in one of the same path), sorted.
    std::vector<std::string> list(const std::string& folder,
                                  const std::vector<std::string>& exts) const;
    // A workflow by name (workflows/NAME.yaml|.yml|.json) or by a path to a file.
    // Returns the path to show in messages and the text.
    Result<std::pair<std::string, std::string>>
    find_workflow(const std::string& name_or_path) const;
    // The names find_workflow reaches (workflows/NAME.*, not workflows/samples/...), sorted
    // and without repeats.
    std::vector<std::string> workflow_names() const;

    // Which file find_workflow would read, found with stat() alone (nullopt: none): where it
    // is (origin as find_workflow names it) and its stamp, which changes when the file does.
    // Lets a caller keep a parsed workflow without reading the file on every start (a
    // built-in file never changes: stamp 0).
    struct WorkflowLocation {
        std::string origin;
        std::string path;  // what to read: a real path, or the "workflows/..." built-in
        bool built_in = false;
        uint64_t stamp = 0;  // mtime (ns), size and inode, mixed
        bool operator==(const WorkflowLocation&) const = default;
    };
    std::optional<WorkflowLocation> locate_workflow(const std::string& name_or_path) const;
    // text with the project folder taken out of the paths it names ("/srv/proj/workflows/
    // x.yaml:3:1: ..." -> "workflows/x.yaml:3:1: ..."): API callers (an anonymous form's
    // among them) are told which file, not where the server keeps it.
    std::string without_folder(std::string text) const;
    // A workflow reference is a file path when it has a '/' or a workflow file's extension,
    // else a name looked up in workflows/ only: a stray file named like a workflow in the
    // current directory never shadows it.
    static bool is_workflow_path(std::string_view name_or_path);
    // Why a sub-workflow step may not name a path.
    static std::string sub_workflow_path_message(std::string_view path);

  private:
    std::string dir_;
    std::string data_dir_;
    std::string workflows_dir_;     // dir_/workflows, as given
    std::string workflows_origin_;  // the same, lexically normal: how messages name it
};

// Reads a whole regular file; nullopt when it cannot be read, errno saying why (EISDIR for
// a folder).
std::optional<std::string> read_file(const std::string& path);

}  // namespace ferry::engine

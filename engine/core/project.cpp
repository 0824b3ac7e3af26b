#include "core/project.h"

#include "core/embedded.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace fs = std::filesystem;

namespace ferry::engine {

std::optional<std::string_view> embedded_file(std::string_view path) {
    for (const EmbeddedFile& f : embedded_files())
        if (f.path == path) return f.data;
    return std::nullopt;
}

std::optional<std::string> read_file(const std::string& path) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) return std::nullopt;
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream s;
    s << in.rdbuf();
    if (in.bad()) return std::nullopt;
    return s.str();
}

Result<Project> Project::open(const std::string& dir, const std::string& data_dir) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
        return make_error(ErrorKind::Validation, "project folder '" + dir + "' does not exist");
    }
    Project p;
    p.dir_ = dir;
    p.data_dir_ = data_dir.empty() ? (fs::path(dir) / ".ferry").string() : data_dir;
    return p;
}

std::optional<std::string> Project::read(const std::string& rel, std::string* origin) const {
    fs::path local = fs::path(dir_) / rel;
    if (auto text = read_file(local.string())) {
        if (origin) *origin = local.lexically_normal().string();
        return text;
    }
    if (auto data = embedded_file(rel)) {
        if (origin) *origin = "(built-in) " + rel;
        return std::string(*data);
    }
    return std::nullopt;
}

std::vector<std::string> Project::list(const std::string& folder,
                                       const std::vector<std::string>& exts) const {
    auto wanted = [&](const std::string& path) {
        for (const std::string& e : exts)
            if (path.size() >= e.size() && path.compare(path.size() - e.size(), e.size(), e) == 0)
                return true;
        return exts.empty();
    };
    std::set<std::string> found;
    std::error_code ec;
    fs::path root = fs::path(dir_) / folder;
    if (fs::is_directory(root, ec)) {
        for (auto it = fs::recursive_directory_iterator(root, ec);
             !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
            if (!it->is_regular_file(ec)) continue;
            std::string rel = (fs::path(folder) / fs::relative(it->path(), root, ec)).string();
            if (wanted(rel)) found.insert(rel);
        }
    }
    for (const EmbeddedFile& f : embedded_files()) {
        std::string path(f.path);
        if (path.compare(0, folder.size() + 1, folder + "/") == 0 && wanted(path)) found.insert(path);
    }
    return {found.begin(), found.end()};
}

Result<std::pair<std::string, std::string>> Project::find_workflow(
    const std::string& name_or_path) const {
    std::error_code ec;
    if (name_or_path.find('/') != std::string::npos || fs::is_regular_file(name_or_path, ec)) {
        if (auto text = read_file(name_or_path)) return std::pair{name_or_path, *text};
        return make_error(ErrorKind::NotFound, "cannot read workflow file '" + name_or_path + "'");
    }
    for (const char* ext : {".yaml", ".yml", ".json"}) {
        std::string rel = "workflows/" + name_or_path + ext;
        std::string origin;
        if (auto text = read(rel, &origin)) return std::pair{origin, *text};
    }
    std::string known;
    for (const std::string& f : list("workflows", {".yaml", ".yml", ".json"})) {
        std::string stem = fs::path(f).stem().string();
        known += known.empty() ? stem : ", " + stem;
    }
    return make_error(ErrorKind::NotFound,
                      "no workflow named '" + name_or_path + "' in " +
                          (fs::path(dir_) / "workflows").string() +
                          (known.empty() ? std::string(" (there are none)")
                                         : " (known: " + known + ")"));
}

}  // namespace ferry::engine

#include "core/project.h"

#include "core/embedded.h"
#include "runtime/file_stamp.h"
#include "workflow/suggest.h"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <filesystem>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace ferry::engine {

std::optional<std::string_view> embedded_file(std::string_view path) {
    for (const EmbeddedFile& f : embedded_files())
        if (f.path == path) return f.data;
    return std::nullopt;
}

std::optional<std::string> read_file(const std::string& path) {
    // POSIX calls: an ifstream and a stringstream cost more than the read (a workflow is
    // looked up on every start).
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int why = S_ISDIR(st.st_mode) ? EISDIR : S_ISREG(st.st_mode) ? errno : EINVAL;
        ::close(fd);
        errno = why;  // for the caller's message: "Is a directory", not a stale ENOENT
        return std::nullopt;
    }
    std::string text;
    text.resize(size_t(st.st_size));
    size_t done = 0;
    for (;;) {
        if (done == text.size()) text.resize(text.size() + 4096);  // it grew meanwhile
        ssize_t n = ::read(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            ::close(fd);
            return std::nullopt;
        }
        if (n == 0) break;
        done += size_t(n);
    }
    ::close(fd);
    text.resize(done);
    return text;
}

Result<Project> Project::open(const std::string& dir, const std::string& data_dir) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
        return make_error(ErrorKind::Validation, "project folder '" + dir + "' does not exist");
    }
    Project p;
    p.dir_ = dir;
    p.data_dir_ = data_dir.empty() ? (fs::path(dir) / ".ferry").string() : data_dir;
    fs::path workflows = fs::path(dir) / "workflows";
    p.workflows_dir_ = workflows.string();
    p.workflows_origin_ = workflows.lexically_normal().string();
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

std::string Project::without_folder(std::string text) const {
    // Messages name files by the workflows folder's normal form, "DIR/workflows" (or
    // "workflows" for a project in the working directory: nothing to take out).
    const std::string_view origin = workflows_origin_;
    if (!origin.ends_with("workflows")) return text;
    const std::string prefix(
        origin.substr(0, origin.size() - std::string_view("workflows").size()));
    if (prefix.empty()) return text;
    for (size_t at = text.find(prefix); at != std::string::npos; at = text.find(prefix, at))
        text.erase(at, prefix.size());
    return text;
}

std::optional<uint64_t> Project::stamp(const std::string& rel) const {
    if (std::optional<uint64_t> local = file_stamp(dir_ + '/' + rel)) return local;
    if (embedded_file(rel)) return 0;
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
        if (path.compare(0, folder.size() + 1, folder + "/") == 0 && wanted(path))
            found.insert(path);
    }
    return {found.begin(), found.end()};
}

bool Project::is_workflow_path(std::string_view name_or_path) {
    if (name_or_path.find('/') != std::string_view::npos) return true;
    for (std::string_view ext : {".yaml", ".yml", ".json"})
        if (name_or_path.size() > ext.size() && name_or_path.ends_with(ext)) return true;
    return false;
}

std::string Project::sub_workflow_path_message(std::string_view path) {
    return "a sub-workflow is named by a workflow name from workflows/, not a path ('" +
           std::string(path) + "')";
}

std::optional<Project::WorkflowLocation>
Project::locate_workflow(const std::string& name_or_path) const {
    if (is_workflow_path(name_or_path)) {
        std::optional<uint64_t> stamp = file_stamp(name_or_path);
        if (!stamp) return std::nullopt;
        return WorkflowLocation{name_or_path, name_or_path, false, *stamp};
    }
    // As read(): for each extension the project's file, then the built-in one.
    // Strings, not fs::path: this runs on every start, and a name has no '/' (else it is a
    // path, above), so normalising the folder once (open()) normalises every file in it.
    for (const char* ext : {".yaml", ".yml", ".json"}) {
        std::string file = name_or_path + ext;
        std::string local = workflows_dir_ + '/' + file;
        if (std::optional<uint64_t> stamp = file_stamp(local))
            return WorkflowLocation{workflows_origin_ + '/' + file, std::move(local), false,
                                    *stamp};
        std::string rel = "workflows/" + file;
        if (embedded_file(rel)) return WorkflowLocation{"(built-in) " + rel, rel, true, 0};
    }
    return std::nullopt;
}

Result<std::pair<std::string, std::string>>
Project::find_workflow(const std::string& name_or_path) const {
    std::optional<WorkflowLocation> at = locate_workflow(name_or_path);
    if (at && at->built_in) return std::pair{at->origin, std::string(*embedded_file(at->path))};
    if (at && !is_workflow_path(name_or_path)) {
        // Two files with one name: which one ran depended on an order of extensions the
        // user never chose (ferry validate reports the clash too).
        std::vector<std::string> same;
        for (const char* ext : {".yaml", ".yml", ".json"})
            if (file_stamp(workflows_dir_ + '/' + name_or_path + ext))
                same.push_back(name_or_path + ext);
        if (same.size() > 1) {
            std::string listed;
            for (const std::string& f : same)
                listed += (listed.empty() ? "" : " and ") + f;
            return make_error(ErrorKind::Validation, "workflow name '" + name_or_path +
                                                         "' is ambiguous: workflows/ has " +
                                                         listed + "; keep one of them");
        }
    }
    std::optional<std::string> text = at ? read_file(at->path) : std::nullopt;
    if (text) return std::pair{at->origin, std::move(*text)};
    if (is_workflow_path(name_or_path)) {
        // A path is read from the current directory; `hello.yaml` typed for the project's
        // workflows/hello.yaml is the usual slip: say how a name finds it.
        std::error_code ec;
        const fs::file_status st = fs::status(name_or_path, ec);
        const std::string why = ec                     ? ec.message()
                                : fs::is_directory(st) ? std::string("it is a folder")
                                                       : std::string("it cannot be read");
        const fs::path as_path(name_or_path);
        std::string hint;
        if (as_path.parent_path().empty() && locate_workflow(as_path.stem().string()))
            hint = " (a name without the extension finds the project's workflows/" + name_or_path +
                   ": ferry run " + as_path.stem().string() + ")";
        return make_error(ErrorKind::NotFound,
                          "cannot read workflow file '" + name_or_path + "': " + why + hint);
    }
    // No server path: the API repeats this message to its callers.
    const std::vector<std::string> names = workflow_names();
    std::string known;
    for (const std::string& n : names)
        known += known.empty() ? n : ", " + n;
    return make_error(
        ErrorKind::NotFound,
        "no workflow named '" + name_or_path + "' in workflows/" +
            workflow::did_you_mean(name_or_path, names) +
            (known.empty() ? std::string(" (there are none)") : " (known: " + known + ")"));
}

std::vector<std::string> Project::workflow_names() const {
    std::set<std::string> names;
    for (const std::string& f : list("workflows", {".yaml", ".yml", ".json"}))
        if (fs::path(f).parent_path() == "workflows") names.insert(fs::path(f).stem().string());
    return {names.begin(), names.end()};
}

}  // namespace ferry::engine

#pragma once
// Test helpers: a private temp dir per test, removed afterwards, and a
// snapshot of a dir's files to prove that a refused open changed nothing.

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>

namespace synod::storage::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "synod-storage-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr)
      throw std::runtime_error("mkdtemp failed for " + pattern);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Relative path -> contents of every regular file under `dir`. A live RocksDB
// may append to its own info log at any time, so `with_log_contents` = false
// records only the LOG files' names (a rotation still shows as a new name).
inline std::map<std::string, std::string> snapshot(const std::string& dir,
                                                   bool with_log_contents = true) {
  std::map<std::string, std::string> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = std::filesystem::relative(entry.path(), dir).string();
    if (!with_log_contents && name.starts_with("LOG")) {
      files[name] = "(log)";
      continue;
    }
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream contents;
    contents << in.rdbuf();
    files[name] = contents.str();
  }
  return files;
}

// Names of the files that differ between two snapshots, for a short message.
inline std::string changed_files(const std::map<std::string, std::string>& before,
                                 const std::map<std::string, std::string>& after) {
  std::string out;
  for (const auto& [name, contents] : before) {
    auto it = after.find(name);
    if (it == after.end())
      out += " -" + name;
    else if (it->second != contents)
      out += " ~" + name;
  }
  for (const auto& [name, contents] : after) {
    if (!before.contains(name)) out += " +" + name;
  }
  return out;
}

}  // namespace synod::storage::testing

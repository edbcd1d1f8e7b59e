// Helpers shared by the unit tests that touch the file system.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

namespace aoarm::testsupport {

/// A fresh folder under the test temp dir, removed with everything in it at
/// the end of the test. ok() is false when it could not be created.
class TempDir {
public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "aoarm-test-XXXXXX";
    path_ = ::mkdtemp(pattern.data()) ? pattern : "";
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty())
      std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;

  /// True when the folder exists.
  bool ok() const { return !path_.empty(); }
  /// The folder.
  const std::string &path() const { return path_; }
  /// The path of `name` inside the folder.
  std::string file(const std::string &name) const { return path_ + "/" + name; }

private:
  std::string path_;
};

} // namespace aoarm::testsupport

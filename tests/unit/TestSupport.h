// Helpers shared by the unit tests: temporary folders, random tokens.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <random>
#include <vector>
#include <filesystem>
#include <string>
#include <system_error>

namespace aoarm::testsupport {

/// n token ids uniform in [0, vocab), reproducible from `seed`.
inline std::vector<int32_t> randomTokens(int64_t n, int32_t vocab,
                                         uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> dist(0, vocab - 1);
  std::vector<int32_t> tokens(n);
  for (int32_t &t : tokens)
    t = dist(rng);
  return tokens;
}

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

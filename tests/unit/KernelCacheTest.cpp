// The kernel cache without NVRTC (it runs in CI): keys separate every part,
// entries round-trip, every damaged byte and every truncation is refused,
// stores are atomic and replace old entries, and the folder follows the
// environment. NvrtcTest covers the cache in front of a real compiler.
#include "codegen/KernelCache.h"
#include "runtime/support/File.h"

#include "TestSupport.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

using namespace aoarm;
using aoarm::testsupport::TempDir;

namespace {

#define EXPECT_CONTAINS(text, part)                                            \
  EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

CompiledKernels sampleKernels() {
  CompiledKernels kernels;
  kernels.cubin = std::string("\x7f"
                              "ELF",
                              4) +
                  std::string(60, '\x01');
  kernels.ptx = ".version 9.0\n.target sm_90\n";
  kernels.log = "warning: something";
  return kernels;
}

Sha256Digest keyOf(std::string_view source, std::string_view name = "k.cu",
                   std::vector<std::string> options = {"--std=c++17"},
                   std::string_view arch = "sm_90",
                   std::string_view version = "13.0") {
  return kernelCacheKey({source, name, options, arch, version});
}

/// Sets an environment variable for one scope, then puts it back.
class ScopedEnv {
public:
  ScopedEnv(const char *name, const char *value) : name_(name) {
    if (const char *old = std::getenv(name))
      old_ = old;
    if (value)
      ::setenv(name, value, 1);
    else
      ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }

private:
  const char *name_;
  std::optional<std::string> old_;
};

TEST(KernelCacheTest, KeySeparatesEveryPart) {
  const Sha256Digest base = keyOf("src");
  EXPECT_EQ(base, keyOf("src"));
  EXPECT_NE(base, keyOf("src2"));
  EXPECT_NE(base, keyOf("src", "other.cu"));
  EXPECT_NE(base, keyOf("src", "k.cu", {"--std=c++20"}));
  EXPECT_NE(base, keyOf("src", "k.cu", {"--std=c++17", "-lineinfo"}));
  EXPECT_NE(base, keyOf("src", "k.cu", {"--std=c++17"}, "sm_80"));
  EXPECT_NE(base, keyOf("src", "k.cu", {"--std=c++17"}, "sm_90", "13.1"));
  // Length prefixes: moving bytes from one part to the next changes the key.
  EXPECT_NE(keyOf("ab", "c"), keyOf("a", "bc"));
  EXPECT_NE(keyOf("s", "n", {"ab", "c"}), keyOf("s", "n", {"a", "bc"}));
  EXPECT_NE(keyOf("s", "n", {"a", ""}), keyOf("s", "n", {"a"}));
}

TEST(KernelCacheTest, EntryRoundTrips) {
  const Sha256Digest key = keyOf("src");
  const CompiledKernels kernels = sampleKernels();
  StatusOr<CompiledKernels> back =
      decodeKernelCacheEntry(key, encodeKernelCacheEntry(key, kernels));
  ASSERT_TRUE(back.isOk()) << back.status().message();
  EXPECT_EQ(back->cubin, kernels.cubin);
  EXPECT_EQ(back->ptx, kernels.ptx);
  EXPECT_EQ(back->log, kernels.log);
  // Empty parts too.
  back = decodeKernelCacheEntry(key, encodeKernelCacheEntry(key, {}));
  ASSERT_TRUE(back.isOk()) << back.status().message();
  EXPECT_TRUE(back->cubin.empty() && back->ptx.empty() && back->log.empty());
}

TEST(KernelCacheTest, RefusesEverySingleByteCorruption) {
  const Sha256Digest key = keyOf("src");
  const std::string good = encodeKernelCacheEntry(key, sampleKernels());
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x20);
    EXPECT_FALSE(decodeKernelCacheEntry(key, bad).isOk()) << "byte " << i;
  }
}

TEST(KernelCacheTest, RefusesEveryTruncation) {
  const Sha256Digest key = keyOf("src");
  const std::string good = encodeKernelCacheEntry(key, sampleKernels());
  for (size_t size = 0; size < good.size(); ++size)
    EXPECT_FALSE(decodeKernelCacheEntry(key, good.substr(0, size)).isOk())
        << "size " << size;
  EXPECT_FALSE(decodeKernelCacheEntry(key, good + "x").isOk());
}

TEST(KernelCacheTest, RefusesAnotherKeysEntry) {
  const Sha256Digest key = keyOf("src");
  const std::string other = encodeKernelCacheEntry(keyOf("x"), sampleKernels());
  StatusOr<CompiledKernels> decoded = decodeKernelCacheEntry(key, other);
  ASSERT_FALSE(decoded.isOk());
  EXPECT_CONTAINS(decoded.status().message(), "another key");
}

TEST(KernelCacheTest, StoreThenLookup) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  // The folder is made on the first store, parents included.
  KernelCache cache(dir.file("a/b/kernels"));
  const Sha256Digest key = keyOf("src");
  EXPECT_EQ(cache.lookup(key).result, KernelCache::Lookup::Miss);
  ASSERT_TRUE(cache.store(key, sampleKernels()).isOk());
  KernelCache::Entry entry = cache.lookup(key);
  ASSERT_EQ(entry.result, KernelCache::Lookup::Hit) << entry.problem;
  EXPECT_EQ(entry.kernels.cubin, sampleKernels().cubin);
  EXPECT_EQ(cache.entryPath(key),
            dir.file("a/b/kernels/" + toHex(key) + ".kernel"));
  // Another key is still a miss.
  EXPECT_EQ(cache.lookup(keyOf("src2")).result, KernelCache::Lookup::Miss);

  // A store replaces the entry, and leaves no temporary behind.
  CompiledKernels changed = sampleKernels();
  changed.ptx = "replaced";
  ASSERT_TRUE(cache.store(key, changed).isOk());
  EXPECT_EQ(cache.lookup(key).kernels.ptx, "replaced");
  int files = 0;
  for (const auto &item :
       std::filesystem::directory_iterator(cache.directory())) {
    ++files;
    EXPECT_EQ(item.path().extension(), ".kernel") << item.path();
  }
  EXPECT_EQ(files, 1);
}

TEST(KernelCacheTest, DamagedEntryIsReportedNotTrusted) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  KernelCache cache(dir.path());
  const Sha256Digest key = keyOf("src");
  ASSERT_TRUE(cache.store(key, sampleKernels()).isOk());
  StatusOr<std::string> bytes = readFileBytes(cache.entryPath(key));
  ASSERT_TRUE(bytes.isOk());
  std::string damaged = *bytes;
  damaged[damaged.size() / 2] ^= 1;
  ASSERT_TRUE(writeFileAtomically(cache.entryPath(key), damaged, true).isOk());
  KernelCache::Entry entry = cache.lookup(key);
  EXPECT_EQ(entry.result, KernelCache::Lookup::Corrupt);
  EXPECT_CONTAINS(entry.problem, cache.entryPath(key));
  EXPECT_CONTAINS(entry.problem, "checksum mismatch");

  // An empty file (a crash before rename cannot leave one, a full disk
  // elsewhere might) is corrupt too.
  ASSERT_TRUE(writeFileAtomically(cache.entryPath(key), "", true).isOk());
  EXPECT_EQ(cache.lookup(key).result, KernelCache::Lookup::Corrupt);
}

TEST(KernelCacheTest, StoreFailureIsAnError) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  // The cache folder's path is taken by a file.
  ASSERT_TRUE(writeFileAtomically(dir.file("blocked"), "x", false).isOk());
  KernelCache cache(dir.file("blocked"));
  Status stored = cache.store(keyOf("src"), sampleKernels());
  ASSERT_FALSE(stored.isOk());
  EXPECT_CONTAINS(stored.message(), "blocked");
}

TEST(KernelCacheTest, DirectoryFollowsTheEnvironment) {
  {
    ScopedEnv cacheVar("AOARM_KERNEL_CACHE", "/tmp/my-kernels");
    EXPECT_EQ(KernelCache::defaultDirectory(), "/tmp/my-kernels");
  }
  {
    ScopedEnv cacheVar("AOARM_KERNEL_CACHE", "off");
    EXPECT_EQ(KernelCache::defaultDirectory(), std::nullopt);
  }
  {
    ScopedEnv cacheVar("AOARM_KERNEL_CACHE", nullptr);
    ScopedEnv xdg("XDG_CACHE_HOME", "/xdg");
    EXPECT_EQ(KernelCache::defaultDirectory(), "/xdg/aoarm/kernels");
  }
  {
    ScopedEnv cacheVar("AOARM_KERNEL_CACHE", "");
    ScopedEnv xdg("XDG_CACHE_HOME", nullptr);
    ScopedEnv home("HOME", "/home/someone");
    EXPECT_EQ(KernelCache::defaultDirectory(),
              "/home/someone/.cache/aoarm/kernels");
  }
  {
    ScopedEnv cacheVar("AOARM_KERNEL_CACHE", nullptr);
    ScopedEnv xdg("XDG_CACHE_HOME", nullptr);
    ScopedEnv home("HOME", nullptr);
    EXPECT_EQ(KernelCache::defaultDirectory(), std::nullopt);
  }
}

} // namespace

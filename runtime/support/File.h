// Whole-file reads and atomic writes, for every runtime file format (text8
// corpora, bundles, safetensors checkpoints).
//
// A writer never lets a reader see half a file: it writes a temporary beside
// the target, syncs it and renames it into place. writeFileAtomically does
// all of that; writers with their own rules for the rename (checkpoints are
// never replaced) share the write-and-sync step, writeAllAndSync, or write
// piece by piece with writeAll.
#pragma once

#include "runtime/support/Status.h"

#include <functional>
#include <string>
#include <string_view>

namespace aoarm {

/// The whole content of a file.
StatusOr<std::string> readFileBytes(const std::string &path);

/// Writes `bytes` to `path` atomically (a temporary file in the same folder,
/// fsync, rename), so a reader never sees half a file. Refuses an existing
/// `path` unless `overwrite`.
Status writeFileAtomically(const std::string &path, std::string_view bytes,
                           bool overwrite);

/// Writes all of `bytes` to `fd`, retrying short and interrupted writes; `fd`
/// stays open. A failure returns `fail("write")`, called while errno still
/// holds the cause. Writers that stream a file piece by piece call this for
/// each piece and sync at the end.
Status writeAll(int fd, std::string_view bytes,
                const std::function<Status(const char *step)> &fail);

/// Writes all of `bytes` to `fd`, retrying short and interrupted writes, then
/// fsyncs it; `fd` stays open. A failure returns `fail("write")` or
/// `fail("sync")`, called while errno still holds the cause, so the caller
/// words the message and cleans up.
Status writeAllAndSync(int fd, std::string_view bytes,
                       const std::function<Status(const char *step)> &fail);

} // namespace aoarm

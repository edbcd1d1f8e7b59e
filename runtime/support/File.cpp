#include "runtime/support/File.h"

#include <fmt/format.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace aoarm {

namespace {

/// strerror in the style of our messages (lowercase first letter).
std::string systemError(int error) {
  std::string text = std::strerror(error);
  if (!text.empty())
    text[0] =
        static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;
}

} // namespace

StatusOr<std::string> readFileBytes(const std::string &path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return Status::errorf("{}: cannot open: {}", path, systemError(errno));
  struct stat info;
  if (::fstat(fd, &info) != 0) {
    int error = errno;
    ::close(fd);
    return Status::errorf("{}: cannot read: {}", path, systemError(error));
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    return Status::errorf("{}: not a regular file", path);
  }
  std::string bytes(static_cast<size_t>(info.st_size), '\0');
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t got = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0) {
      int error = errno;
      ::close(fd);
      if (got == 0)
        return Status::errorf("{}: file shrank while reading ({} of {} bytes)",
                              path, done, bytes.size());
      return Status::errorf("{}: cannot read: {}", path, systemError(error));
    }
    done += static_cast<size_t>(got);
  }
  ::close(fd);
  return bytes;
}

Status writeAll(int fd, std::string_view bytes,
                const std::function<Status(const char *step)> &fail) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t wrote = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (wrote < 0 && errno == EINTR)
      continue;
    if (wrote < 0)
      return fail("write");
    done += static_cast<size_t>(wrote);
  }
  return Status::ok();
}

Status writeAllAndSync(int fd, std::string_view bytes,
                       const std::function<Status(const char *step)> &fail) {
  AOARM_RETURN_IF_ERROR(writeAll(fd, bytes, fail));
  if (::fsync(fd) != 0)
    return fail("sync");
  return Status::ok();
}

Status writeFileAtomically(const std::string &path, std::string_view bytes,
                           bool overwrite) {
  struct stat info;
  if (!overwrite && ::stat(path.c_str(), &info) == 0)
    return Status::errorf("{}: already exists", path);
  // The temporary sits beside the target so rename() stays in one file system
  // and is atomic.
  std::string temporary = fmt::format("{}.tmp-{}", path, ::getpid());
  int fd = ::open(temporary.c_str(),
                  O_WRONLY | O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return Status::errorf("{}: cannot create: {}", temporary,
                          systemError(errno));
  auto fail = [&](const char *what) {
    Status status =
        Status::errorf("{}: cannot {}: {}", path, what, systemError(errno));
    if (fd >= 0)
      ::close(fd);
    ::unlink(temporary.c_str());
    return status;
  };
  AOARM_RETURN_IF_ERROR(writeAllAndSync(fd, bytes, fail));
  int closed = ::close(fd);
  fd = -1;
  if (closed != 0)
    return fail("close");
  if (::rename(temporary.c_str(), path.c_str()) != 0)
    return fail("rename the temporary file onto");
  // Make the rename itself durable.
  size_t slash = path.find_last_of('/');
  std::string folder = slash == std::string::npos ? "." : path.substr(0, slash);
  if (folder.empty())
    folder = "/";
  int folderFd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (folderFd >= 0) {
    ::fsync(folderFd);
    ::close(folderFd);
  }
  return Status::ok();
}

} // namespace aoarm

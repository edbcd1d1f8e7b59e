#include "runtime/cuda/Cubin.h"

#include <cctype>
#include <cstdint>

namespace aoarm::cuda {

namespace {

constexpr uint16_t kEmCuda = 190;
constexpr uint8_t kOsAbiCudaOld = 0x33; // ABI version 7 and earlier
constexpr uint8_t kOsAbiCudaNew = 0x41; // ABI version 8 (CUDA 12.8+)

uint32_t readLittle(std::string_view bytes, size_t offset, size_t width) {
  uint32_t value = 0;
  for (size_t i = 0; i < width; ++i)
    value |= static_cast<uint32_t>(static_cast<uint8_t>(bytes[offset + i]))
             << (8 * i);
  return value;
}

} // namespace

StatusOr<int> cubinSmVersion(std::string_view image) {
  // 64-bit ELF header: e_ident[16], e_type u16 @16, e_machine u16 @18,
  // e_flags u32 @48, 64 bytes in all.
  if (image.size() < 64)
    return Status::errorf("cubin: {} bytes, shorter than an ELF header",
                          image.size());
  if (image.substr(0, 4) != std::string_view("\x7f"
                                             "ELF",
                                             4))
    return Status::error("cubin: not an ELF image (bad magic)");
  if (image[4] != 2 || image[5] != 1)
    return Status::errorf("cubin: ELF class {} data {}, expected 64-bit "
                          "little-endian (2, 1)",
                          static_cast<int>(image[4]),
                          static_cast<int>(image[5]));
  const uint32_t machine = readLittle(image, 18, 2);
  if (machine != kEmCuda)
    return Status::errorf("cubin: ELF machine {}, expected {} (CUDA)", machine,
                          kEmCuda);
  const uint8_t osAbi = static_cast<uint8_t>(image[7]);
  const uint32_t flags = readLittle(image, 48, 4);
  int sm = 0;
  if (osAbi == kOsAbiCudaOld)
    sm = static_cast<int>(flags & 0xff);
  else if (osAbi == kOsAbiCudaNew)
    sm = static_cast<int>((flags >> 8) & 0xff);
  else
    return Status::errorf("cubin: unknown CUDA ELF ABI 0x{:02x}", osAbi);
  if (sm < 10)
    return Status::errorf("cubin: no SM version in e_flags 0x{:08x}", flags);
  return sm;
}

std::optional<int> ptxTargetSmVersion(std::string_view ptx) {
  constexpr std::string_view directive = ".target";
  for (size_t at = ptx.find(directive); at != std::string_view::npos;
       at = ptx.find(directive, at + 1)) {
    // Only a directive at the start of a line (after blanks) counts.
    size_t lineStart = ptx.rfind('\n', at);
    lineStart = lineStart == std::string_view::npos ? 0 : lineStart + 1;
    bool atLineStart = true;
    for (size_t i = lineStart; i < at; ++i)
      if (ptx[i] != ' ' && ptx[i] != '\t')
        atLineStart = false;
    if (!atLineStart)
      continue;
    size_t i = at + directive.size();
    while (i < ptx.size() && (ptx[i] == ' ' || ptx[i] == '\t'))
      ++i;
    if (ptx.substr(i, 3) != "sm_")
      return std::nullopt;
    i += 3;
    int sm = 0;
    size_t digits = 0;
    while (i < ptx.size() && std::isdigit(static_cast<unsigned char>(ptx[i])) &&
           digits < 4) {
      sm = sm * 10 + (ptx[i] - '0');
      ++i;
      ++digits;
    }
    if (digits == 0)
      return std::nullopt;
    return sm;
  }
  return std::nullopt;
}

bool cubinRunsOn(int cubinSm, int deviceSm) {
  return cubinSm / 10 == deviceSm / 10 && cubinSm % 10 <= deviceSm % 10;
}

} // namespace aoarm::cuda

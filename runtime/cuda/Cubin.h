// What a compiled kernel image says about itself: the SM architecture of a
// cubin (from its ELF header) and the target of a PTX module.
//
// The runtime decides from these, before asking the driver, whether a
// bundle's cubin can run on the device or its PTX must be JIT-compiled; the
// compiler's tests use them to check what NVRTC produced. Pure byte parsing:
// no CUDA library is needed.
#pragma once

#include "runtime/support/Status.h"

#include <optional>
#include <string_view>

namespace aoarm::cuda {

/// The SM version a cubin was built for, as major*10 + minor (90 for sm_90,
/// 120 for sm_120). Refuses anything that is not a 64-bit little-endian CUDA
/// ELF (e_machine EM_CUDA), naming what it found. Both the ELF ABI of CUDA
/// 12.x and earlier (OSABI 0x33, SM in e_flags bits 0-7) and the one CUDA
/// 12.8+ writes (OSABI 0x41, SM in e_flags bits 8-15) are read.
StatusOr<int> cubinSmVersion(std::string_view image);

/// The SM version of the first `.target sm_XX[a|f]` directive of a PTX
/// module, or nullopt when there is none.
std::optional<int> ptxTargetSmVersion(std::string_view ptx);

/// True when a cubin built for `cubinSm` runs on a device of compute
/// capability `deviceSm` (both major*10 + minor): SASS is compatible within
/// one major version, from older minor to newer.
bool cubinRunsOn(int cubinSm, int deviceSm);

} // namespace aoarm::cuda

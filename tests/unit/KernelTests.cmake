# The kernel library's tests (codegen/kernels, tests/unit/cudaemu).
# GenEmuKernels lowers every case of KernelCases.h and emits the CUDA module
# at build time; EmuKernels.cpp is that module compiled for the host under
# the CUDA emulator, so *EmuTest runs every kernel on the CPU (CI included)
# against the CPU reference.
file(GLOB kernel_cases CONFIGURE_DEPENDS
     ${CMAKE_CURRENT_SOURCE_DIR}/cudaemu/*Cases.cpp)
add_executable(GenEmuKernels cudaemu/GenEmuKernels.cpp ${kernel_cases})
target_link_libraries(GenEmuKernels PRIVATE AoarmKernels)

set(emu_dir ${CMAKE_CURRENT_BINARY_DIR}/cudaemu)
set(emu_outputs ${emu_dir}/EmuKernels.cpp ${emu_dir}/KernelCases.cu
    ${emu_dir}/KernelCasesIndex.cpp)
add_custom_command(OUTPUT ${emu_outputs}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${emu_dir}
  COMMAND GenEmuKernels ${emu_dir}
  DEPENDS GenEmuKernels
  COMMENT "Emitting the kernel cases' CUDA module")

find_package(Threads REQUIRED)
add_library(AoarmKernelEmu STATIC cudaemu/KernelHarness.cpp
            ${emu_dir}/EmuKernels.cpp ${kernel_cases})
target_link_libraries(AoarmKernelEmu PUBLIC AoarmKernels GTest::gtest
                      Threads::Threads)
# The emitted module is generated code: its unused variables and the like
# are not this build's warnings to fix.
set_source_files_properties(${emu_dir}/EmuKernels.cpp PROPERTIES
  COMPILE_OPTIONS "-w")

foreach(test PointwiseKernelEmuTest DenseKernelEmuTest)
  if(TARGET ${test})
    target_link_libraries(${test} PRIVATE AoarmKernelEmu AoarmRuntime)
  endif()
endforeach()

# The kernel library's tests (codegen/kernels, tests/unit/cudaemu).
# GenEmuKernels lowers every case of KernelCases.h and emits the CUDA module
# at build time; EmuKernels.cpp is that module compiled for the host under
# the CUDA emulator, so *EmuTest runs every kernel on the CPU (CI included)
# against the CPU reference. The same sources run on a GPU as
# *KernelGpuTest (below).
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
# The emitted module for the host, compiled once (position-independent) for
# both the emulator harness and the emulated driver below.
add_library(AoarmKernelEmuModule OBJECT ${emu_dir}/EmuKernels.cpp)
set_target_properties(AoarmKernelEmuModule PROPERTIES
  POSITION_INDEPENDENT_CODE ON)
# The emitted module is generated code: its unused variables and the like
# are not this build's warnings to fix.
set_source_files_properties(${emu_dir}/EmuKernels.cpp PROPERTIES
  COMPILE_OPTIONS "-w")
# What both runKernelCase backends share, and the cases.
add_library(AoarmKernelCaseCommon OBJECT cudaemu/KernelHarnessCommon.cpp
            ${kernel_cases})
target_link_libraries(AoarmKernelCaseCommon PUBLIC AoarmKernels AoarmRuntime
                      GTest::gtest)
add_library(AoarmKernelEmu STATIC cudaemu/KernelHarness.cpp
            $<TARGET_OBJECTS:AoarmKernelEmuModule>
            $<TARGET_OBJECTS:AoarmKernelCaseCommon>)
target_link_libraries(AoarmKernelEmu PUBLIC AoarmKernels GTest::gtest
                      Threads::Threads)

foreach(test PointwiseKernelEmuTest DenseKernelEmuTest)
  if(TARGET ${test})
    target_link_libraries(${test} PRIVATE AoarmKernelEmu AoarmRuntime)
  endif()
endforeach()

# The same cases behind libcuda's entry points: EmuDriver.cpp serving the
# emitted module compiled for the host (EmuKernels.cpp registers its
# wrappers by name too). The GPU parity tests below run on it with
# AOARM_TEST_CUDA_DRIVER=<this library>, which checks the GPU harness
# without a GPU.
set(emu_driver_dir ${CMAKE_CURRENT_BINARY_DIR}/emucuda)
add_library(aoarm-emucuda-cases SHARED cudaemu/EmuDriver.cpp
            $<TARGET_OBJECTS:AoarmKernelEmuModule>)
target_link_libraries(aoarm-emucuda-cases PRIVATE Threads::Threads)
set_target_properties(aoarm-emucuda-cases PROPERTIES
  LIBRARY_OUTPUT_DIRECTORY ${emu_driver_dir})

# GPU parity (label gpu): PointwiseKernelGpuTest and DenseKernelGpuTest are
# the *KernelEmuTest sources on the GPU harness (KernelHarnessGpu.cpp), with
# KernelCases.cu compiled here by aoarm-nvrtc for sm_90 and embedded, so
# they run where no CUDA toolkit is installed. Every test skips without a
# device. Static libstdc++ and libgcc: the binaries are carried to a GPU
# machine that has none of our Debian libraries.
if(AOARM_NVRTC_FOUND)
  set(cases_cubin ${emu_dir}/KernelCasesCubin.cpp)
  add_custom_command(OUTPUT ${cases_cubin}
    COMMAND aoarm-nvrtc ${emu_dir}/KernelCases.cu --arch sm_90
            --name KernelCases.cu --cpp ${cases_cubin} --symbol kKernelCases
    DEPENDS aoarm-nvrtc ${emu_dir}/KernelCases.cu
    COMMENT "Compiling the kernel cases for sm_90 with NVRTC")
  add_library(AoarmKernelGpuHarness OBJECT cudaemu/KernelHarnessGpu.cpp
              ${emu_dir}/KernelCasesIndex.cpp ${cases_cubin})
  target_link_libraries(AoarmKernelGpuHarness PUBLIC AoarmKernels
                        AoarmRuntime GTest::gtest)
  foreach(kind Pointwise Dense)
    set(name ${kind}KernelGpuTest)
    add_executable(${name} ${kind}KernelEmuTest.cpp
                   $<TARGET_OBJECTS:AoarmKernelGpuHarness>
                   $<TARGET_OBJECTS:AoarmKernelCaseCommon>)
    target_link_libraries(${name} PRIVATE AoarmKernels AoarmRuntime
                          GTest::gtest_main)
    target_link_options(${name} PRIVATE -static-libstdc++ -static-libgcc)
    # The ctest names would clash with *KernelEmuTest's; NO_PRETTY_VALUES
    # keeps a case's bytes (pointers among them) out of them.
    gtest_discover_tests(${name} TEST_PREFIX "gpu." NO_PRETTY_VALUES
      PROPERTIES LABELS gpu DISCOVERY_TIMEOUT 60)
    list(APPEND AOARM_TEST_DEPENDS ${name})
  endforeach()
  # The GPU harness itself, checked without a GPU: DenseKernelGpuTest on the
  # emulated driver (a few seconds; the pointwise cases take ~45 s more, so
  # they are left out). A skip there means the library did not load: fail.
  add_dependencies(DenseKernelGpuTest aoarm-emucuda-cases)
  add_test(NAME DenseKernelGpuTest.EmulatedDriver COMMAND DenseKernelGpuTest)
  set_tests_properties(DenseKernelGpuTest.EmulatedDriver PROPERTIES
    LABELS unit
    ENVIRONMENT "AOARM_TEST_CUDA_DRIVER=$<TARGET_FILE:aoarm-emucuda-cases>"
    FAIL_REGULAR_EXPRESSION "\\[  SKIPPED \\]|every test skips")
endif()

# The runtime's CUDA device path on an emulated driver: for each reference
# model, GenEmuModule compiles the small test bundle's own CUDA source for
# the host, and EmuDriver.cpp serves it as libcuda
# (libaoarm-emucuda-<model>-small[-f32].so). StepParityEmuTest drives GpuExecutor on
# it against the CPU reference. Needs bundles with a GPU program, so the
# compiler and NVRTC.
if(AOARM_BUILD_COMPILER AND AOARM_NVRTC_FOUND)
  add_executable(GenEmuModule cudaemu/GenEmuModule.cpp)
  target_link_libraries(GenEmuModule PRIVATE AoarmRuntime)
  # One library per test bundle: <model>-small (bf16 activations),
  # <model>-small-f32, and drope-small-notc (bf16 without tensor cores).
  foreach(stem ar-small mdlm-small drope-small twostream-small
          ar-small-f32 mdlm-small-f32 drope-small-f32 twostream-small-f32
          drope-small-notc)
    set(bundle ${AOARM_TEST_BUNDLES}/${stem}.aoarm)
    set(module ${emu_driver_dir}/EmuModule-${stem}.cpp)
    add_custom_command(OUTPUT ${module}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${emu_driver_dir}
      COMMAND GenEmuModule ${bundle} ${module}
      DEPENDS GenEmuModule ${bundle}
      COMMENT "Emitting the ${stem} test bundle's CUDA module for the host")
    add_library(aoarm-emucuda-${stem} SHARED cudaemu/EmuDriver.cpp ${module})
    target_include_directories(aoarm-emucuda-${stem} PRIVATE
                               ${PROJECT_SOURCE_DIR})
    target_link_libraries(aoarm-emucuda-${stem} PRIVATE Threads::Threads)
    set_source_files_properties(${module} PROPERTIES COMPILE_OPTIONS "-w")
    set_target_properties(aoarm-emucuda-${stem} PROPERTIES
      LIBRARY_OUTPUT_DIRECTORY ${emu_driver_dir})
    add_dependencies(StepParityEmuTest aoarm-emucuda-${stem})
  endforeach()
  target_compile_definitions(StepParityEmuTest PRIVATE
    AOARM_EMU_DRIVER_DIR="${emu_driver_dir}")
endif()

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

# The runtime's CUDA device path on an emulated driver: for each reference
# model, GenEmuModule compiles the small test bundle's own CUDA source for
# the host, and EmuDriver.cpp serves it as libcuda
# (libaoarm-emucuda-<model>.so). StepParityEmuTest drives GpuExecutor on
# it against the CPU reference. Needs bundles with a GPU program, so the
# compiler and NVRTC.
if(AOARM_BUILD_COMPILER AND AOARM_NVRTC_FOUND)
  add_executable(GenEmuModule cudaemu/GenEmuModule.cpp)
  target_link_libraries(GenEmuModule PRIVATE AoarmRuntime)
  set(emu_driver_dir ${CMAKE_CURRENT_BINARY_DIR}/emucuda)
  foreach(model ar mdlm drope twostream)
    set(bundle ${AOARM_TEST_BUNDLES}/${model}-small.aoarm)
    set(module ${emu_driver_dir}/EmuModule-${model}.cpp)
    add_custom_command(OUTPUT ${module}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${emu_driver_dir}
      COMMAND GenEmuModule ${bundle} ${module}
      DEPENDS GenEmuModule ${bundle}
      COMMENT "Emitting the ${model} test bundle's CUDA module for the host")
    add_library(aoarm-emucuda-${model} SHARED cudaemu/EmuDriver.cpp ${module})
    target_include_directories(aoarm-emucuda-${model} PRIVATE
                               ${PROJECT_SOURCE_DIR})
    target_link_libraries(aoarm-emucuda-${model} PRIVATE Threads::Threads)
    set_source_files_properties(${module} PROPERTIES COMPILE_OPTIONS "-w")
    set_target_properties(aoarm-emucuda-${model} PROPERTIES
      LIBRARY_OUTPUT_DIRECTORY ${emu_driver_dir})
    add_dependencies(StepParityEmuTest aoarm-emucuda-${model})
  endforeach()
  target_compile_definitions(StepParityEmuTest PRIVATE
    AOARM_EMU_DRIVER_DIR="${emu_driver_dir}")
endif()

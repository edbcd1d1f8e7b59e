# The GPU path's unit tests (docs/gpu.md), wired after the loop in
# CMakeLists.txt has made one target per *Test.cpp:
#  - KernelCacheTest: the kernel cache, everywhere (no CUDA needed).
#  - NvrtcTest: NVRTC compilation; only with the CUDA toolkit (it is left out
#    of the glob otherwise).
#  - CudaDriverTest: the driver loader without a GPU, everywhere; with the
#    toolkit it also checks the runtime's driver declarations against cuda.h
#    and the toolkit's stub library.
#  - CudaDriverGpuTest (label gpu): kernels compiled here by aoarm-nvrtc and
#    embedded in the binary, so it runs where no NVRTC is installed; built
#    without them (no toolkit) it skips.
target_link_libraries(KernelCacheTest PRIVATE AoarmKernelCache)
if(AOARM_NVRTC_FOUND)
  target_link_libraries(NvrtcTest PRIVATE AoarmNvrtc)

  # cuda.h for types only: nothing links libcuda.
  target_include_directories(CudaDriverTest SYSTEM PRIVATE
    ${CUDAToolkit_INCLUDE_DIRS})
  target_compile_definitions(CudaDriverTest PRIVATE AOARM_HAVE_CUDA_H=1)
  if(CUDA_cuda_driver_LIBRARY)
    target_compile_definitions(CudaDriverTest PRIVATE
      AOARM_CUDA_STUB_LIBRARY="${CUDA_cuda_driver_LIBRARY}")
  endif()

  set(kernels_source ${CMAKE_CURRENT_SOURCE_DIR}/kernels/DriverTestKernels.cu)
  set(kernels_dir ${CMAKE_CURRENT_BINARY_DIR}/kernels)
  foreach(sm 90 80)
    set(out ${kernels_dir}/DriverTestKernels_sm${sm}.cpp)
    add_custom_command(OUTPUT ${out}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${kernels_dir}
      COMMAND aoarm-nvrtc ${kernels_source} --arch sm_${sm}
              --name DriverTestKernels.cu --cpp ${out}
              --symbol kDriverTestSm${sm}
      DEPENDS aoarm-nvrtc ${kernels_source}
      COMMENT "Compiling the GPU test kernels for sm_${sm} with NVRTC")
    target_sources(CudaDriverGpuTest PRIVATE ${out})
  endforeach()
  target_compile_definitions(CudaDriverGpuTest PRIVATE
    AOARM_HAVE_TEST_KERNELS=1)
endif()

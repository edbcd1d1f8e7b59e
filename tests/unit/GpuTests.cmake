# The GPU path's unit tests (docs/gpu.md), wired after the loop in
# CMakeLists.txt has made one target per *Test.cpp:
#  - KernelCacheTest: the kernel cache, everywhere (no CUDA needed).
#  - NvrtcTest: NVRTC compilation; only with the CUDA toolkit (it is left out
#    of the glob otherwise).
#  - CudaDriverTest: the driver loader without a GPU, everywhere; with the
#    toolkit it also checks the runtime's driver declarations against cuda.h
#    and the toolkit's stub library.
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
endif()

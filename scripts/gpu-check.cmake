# Included by scripts/gpu-check (as CMAKE_PROJECT_INCLUDE, right after project()) when it builds against a CUDA
# build of PyTorch on a machine without the CUDA toolkit (no nvcc): a pip wheel brings the CUDA runtime libraries and
# headers in its nvidia/ packages, but its CMake package (Caffe2's public/cuda.cmake) insists on nvcc and would stop.
# mmdebias compiles no CUDA code: it needs LibTorch's libraries, which find their CUDA libraries themselves. So this
# defines the one target LibTorch's package expects from that step, torch::cudart (whose existence is the step's
# include guard), pointing at the wheel's libcudart and CUDA headers, and sets CUDA_VERSION as that step would
# (sdk/CMakeLists.txt records it in the plugin ABI fingerprint).
#   MMDEBIAS_GPU_CUDA_VERSION  torch.version.cuda, e.g. 13.2
#   MMDEBIAS_GPU_CUDART        the wheel's libcudart.so.N (may be empty)
#   MMDEBIAS_GPU_CUDA_INCLUDE  the directory of the wheel's cuda_runtime_api.h (may be empty)
if(NOT TARGET torch::cudart)
  add_library(torch::cudart INTERFACE IMPORTED)
  if(MMDEBIAS_GPU_CUDART)
    set_property(TARGET torch::cudart PROPERTY INTERFACE_LINK_LIBRARIES "${MMDEBIAS_GPU_CUDART}")
  endif()
  if(MMDEBIAS_GPU_CUDA_INCLUDE)
    set_property(TARGET torch::cudart PROPERTY INTERFACE_INCLUDE_DIRECTORIES "${MMDEBIAS_GPU_CUDA_INCLUDE}")
  endif()
  message(STATUS "gpu-check: no CUDA toolkit: torch::cudart is the wheel's runtime (${MMDEBIAS_GPU_CUDART}), CUDA ${MMDEBIAS_GPU_CUDA_VERSION}")
endif()
set(CUDA_VERSION "${MMDEBIAS_GPU_CUDA_VERSION}")
set(CUDA_NVRTC_LIB "")

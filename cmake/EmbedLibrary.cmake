# Writes OUT, a C++ file defining aoarm::kernels::librarySource(): the
# kernel library's .cuh files (FILES, a ;-list, common.cuh first, then in
# the given order), each after a `#line 1 "codegen/kernels/<name>"` so
# NVRTC messages name the library file.
string(REPLACE "|" ";" FILES "${FILES}")
set(body "")
foreach(file ${FILES})
  file(READ ${file} text)
  get_filename_component(name ${file} NAME)
  string(APPEND body "#line 1 \"codegen/kernels/${name}\"\n${text}\n")
endforeach()
file(WRITE ${OUT}.tmp
"// Generated from codegen/kernels/*.cuh by cmake/EmbedLibrary.cmake.
#include \"codegen/kernels/KernelLibrary.h\"
namespace aoarm::kernels {
const std::string &librarySource() {
  static const std::string source = R\"aoarm_cuh(${body})aoarm_cuh\";
  return source;
}
} // namespace aoarm::kernels
")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)

# bpfvm_bpf_objects(<target> OUTPUT_DIR <dir> SOURCES <c files...> [INCLUDES <dirs...>] [LABEL <text>])
# Compiles BPF C sources with clang-19 for the BPF target (-O2 -g -mcpu=v3, with libbpf's headers)
# into <dir>/<name>.o at build time, behind a custom target <target> built by default.
find_program(BPFVM_BPF_CLANG NAMES clang-19 REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBBPF REQUIRED IMPORTED_TARGET libbpf)

function(bpfvm_bpf_objects target)
  cmake_parse_arguments(ARG "" "OUTPUT_DIR;LABEL" "SOURCES;INCLUDES" ${ARGN})
  if(NOT ARG_LABEL)
    set(ARG_LABEL "BPF object")
  endif()
  set(includes)
  foreach(dir ${ARG_INCLUDES} ${LIBBPF_INCLUDE_DIRS})
    list(APPEND includes -I${dir})
  endforeach()
  # <asm/types.h> lives under the multiarch folder, which clang does not search for -target bpf.
  if(CMAKE_LIBRARY_ARCHITECTURE)
    list(APPEND includes -I/usr/include/${CMAKE_LIBRARY_ARCHITECTURE})
  endif()
  set(objects)
  foreach(src ${ARG_SOURCES})
    get_filename_component(name ${src} NAME_WE)
    set(obj ${ARG_OUTPUT_DIR}/${name}.o)
    add_custom_command(
      OUTPUT ${obj}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${ARG_OUTPUT_DIR}
      COMMAND ${BPFVM_BPF_CLANG} -O2 -g -target bpf -mcpu=v3 ${includes} -MD -MF ${obj}.d -c ${src} -o ${obj}
      DEPENDS ${src}
      DEPFILE ${obj}.d
      COMMENT "${ARG_LABEL}: ${name}.o"
      VERBATIM)
    list(APPEND objects ${obj})
  endforeach()
  add_custom_target(${target} ALL DEPENDS ${objects})
endfunction()

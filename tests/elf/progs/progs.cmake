# Compiles tests/elf/progs/*.c to BPF objects at build time; bpfvm_elf_tests finds them through
# BPFVM_ELF_PROGS_DIR.
find_program(BPFVM_CLANG_BPF NAMES clang-19 REQUIRED)
file(GLOB BPFVM_ELF_PROG_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
set(BPFVM_ELF_PROGS_DIR ${CMAKE_BINARY_DIR}/tests/elf/progs)
set(BPFVM_ELF_PROG_OBJECTS)
foreach(src ${BPFVM_ELF_PROG_SOURCES})
  get_filename_component(stem ${src} NAME_WE)
  set(obj ${BPFVM_ELF_PROGS_DIR}/${stem}.o)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${BPFVM_ELF_PROGS_DIR}
    COMMAND ${BPFVM_CLANG_BPF} -O2 -g -target bpf -mcpu=v3 -I/usr/include/${CMAKE_LIBRARY_ARCHITECTURE}
            -c ${src} -o ${obj}
    DEPENDS ${src}
    COMMENT "BPF object ${stem}.o"
    VERBATIM)
  list(APPEND BPFVM_ELF_PROG_OBJECTS ${obj})
endforeach()
add_custom_target(bpfvm_elf_progs DEPENDS ${BPFVM_ELF_PROG_OBJECTS})
if(TARGET bpfvm_elf_tests)
  add_dependencies(bpfvm_elf_tests bpfvm_elf_progs)
  target_compile_definitions(bpfvm_elf_tests PRIVATE BPFVM_ELF_PROGS_DIR="${BPFVM_ELF_PROGS_DIR}")
endif()

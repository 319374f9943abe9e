# Compiles tests/elf/progs/*.c to BPF objects at build time; bpfvm_elf_tests finds them through
# BPFVM_ELF_PROGS_DIR.
file(GLOB BPFVM_ELF_PROG_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
set(BPFVM_ELF_PROGS_DIR ${CMAKE_BINARY_DIR}/tests/elf/progs)
bpfvm_bpf_objects(bpfvm_elf_progs OUTPUT_DIR ${BPFVM_ELF_PROGS_DIR} SOURCES ${BPFVM_ELF_PROG_SOURCES}
                  LABEL "BPF test object")
if(TARGET bpfvm_elf_tests)
  add_dependencies(bpfvm_elf_tests bpfvm_elf_progs)
  target_compile_definitions(bpfvm_elf_tests PRIVATE BPFVM_ELF_PROGS_DIR="${BPFVM_ELF_PROGS_DIR}")
endif()

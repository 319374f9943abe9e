# Restricted C verifier cases: tests/verifier/progs/*.c -> BPF objects at build time (clang-19);
# bpfvm_verifier_tests finds them through BPFVM_VERIFIER_PROGS_DIR (format in
# tests/verifier/cases/README.md).
file(GLOB BPFVM_VERIFIER_PROG_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
set(BPFVM_VERIFIER_PROGS_DIR ${CMAKE_BINARY_DIR}/tests/verifier/progs)
bpfvm_bpf_objects(bpfvm_verifier_progs OUTPUT_DIR ${BPFVM_VERIFIER_PROGS_DIR}
                  SOURCES ${BPFVM_VERIFIER_PROG_SOURCES} LABEL "verifier C case")
if(TARGET bpfvm_verifier_tests)
  add_dependencies(bpfvm_verifier_tests bpfvm_verifier_progs)
  target_compile_definitions(bpfvm_verifier_tests PRIVATE
                             BPFVM_VERIFIER_PROGS_DIR="${BPFVM_VERIFIER_PROGS_DIR}")
endif()

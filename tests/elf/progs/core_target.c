// The target ("kernel") BTF for core.c: `task` has a different layout and no missing_field.
struct task {
  long long padding[3];
  int tgid;
  short pid;
};
struct task the_task;

# Rebuild crash test: rebuild_crash_child rebuilds every projection over and
# over while it appends, and is killed with SIGKILL at random moments;
# rebuild_crash_test reopens the journal after each kill and checks that each
# projection is the old one or the complete new one, never a partial one, and
# that the interrupted rebuild resumes.
add_executable(rebuild_crash_child rebuild_crash_child.cc)
target_link_libraries(rebuild_crash_child PRIVATE rewind::projections spdlog::spdlog Threads::Threads rewind_warnings)
rewind_add_test(rebuild_crash_test
  SOURCES rebuild_crash_test.cc
  LIBS rewind::projections)
add_dependencies(rebuild_crash_test rebuild_crash_child)

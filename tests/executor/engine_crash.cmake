# Engine crash test: engine_crash_child runs workflows on a durable journal and
# is killed with SIGKILL at random moments; engine_crash_test recovers the
# journal with the same workflow and checks that runs finish and completed
# steps never run again.
add_library(rewind_test_engine_crash_workflow STATIC engine_crash_workflow.cc execution_audit.cc)
target_include_directories(rewind_test_engine_crash_workflow PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(rewind_test_engine_crash_workflow PUBLIC rewind::engine PRIVATE rewind_warnings)
add_executable(engine_crash_child engine_crash_child.cc)
target_link_libraries(engine_crash_child PRIVATE rewind_test_engine_crash_workflow spdlog::spdlog Threads::Threads
  rewind_warnings)
rewind_add_test(engine_crash_test
  SOURCES engine_crash_test.cc
  LIBS rewind_test_engine_crash_workflow spdlog::spdlog)
add_dependencies(engine_crash_test engine_crash_child)

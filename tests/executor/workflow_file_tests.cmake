# Workflow files and shell steps. The end-to-end test runs examples/order.json.
rewind_add_test(workflow_file_test
  SOURCES workflow_file_test.cc
  LIBS rewind::shell)
target_compile_definitions(workflow_file_test PRIVATE
  REWIND_EXAMPLES_DIR="${PROJECT_SOURCE_DIR}/examples")

rewind_add_test(shell_step_test
  SOURCES shell_step_test.cc
  LIBS rewind::shell)

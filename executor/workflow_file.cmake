# Workflow files (JSON) whose steps are shell commands, run under a warden
# (shell_step.h), for the rewind CLI and for services that want them: a
# target of their own above the engine. nlohmann/json stays private to
# workflow_file.cc.
find_package(nlohmann_json 3.11 CONFIG REQUIRED)
add_library(rewind_shell
  src/shell_step.cc
  src/warden.cc
  src/workflow_file.cc)
add_library(rewind::shell ALIAS rewind_shell)
target_include_directories(rewind_shell PUBLIC
  $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:include>
  PRIVATE ${PROJECT_SOURCE_DIR})
target_link_libraries(rewind_shell
  PUBLIC rewind::engine
  PRIVATE nlohmann_json::nlohmann_json $<BUILD_INTERFACE:rewind_warnings>)

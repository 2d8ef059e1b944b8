# Workflow files (JSON) whose steps are shell commands, run under a warden
# (shell_step.h), for the rewind CLI and for services that want them: a
# target of their own above the engine. nlohmann/json stays private to
# workflow_file.cc.
find_package(nlohmann_json 3.11 CONFIG REQUIRED)
rewind_library(shell
  SOURCES src/shell_step.cc src/warden.cc src/workflow_file.cc
  PUBLIC rewind::engine
  PRIVATE nlohmann_json::nlohmann_json spdlog::spdlog)

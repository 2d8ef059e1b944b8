# Workflow files (JSON) whose steps are shell commands, for the rewind CLI.
# nlohmann/json stays private to workflow_file.cc.
find_package(nlohmann_json 3.11 CONFIG REQUIRED)
target_sources(rewind_executor PRIVATE
  src/shell_step.cc
  src/warden.cc
  src/workflow_file.cc)
target_link_libraries(rewind_executor PRIVATE nlohmann_json::nlohmann_json)

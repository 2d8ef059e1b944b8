# Workflow files (JSON) whose steps are shell commands, run under a warden
# (shell_step.h), or calls to a service's URL (http_step.h), for the rewind
# CLI and for services that want them: a target of its own above the engine.
# nlohmann/json stays private to its sources, Beast to http_client.cc.
find_package(nlohmann_json 3.11 CONFIG REQUIRED)
rewind_library(shell
  SOURCES src/shell_step.cc src/warden.cc src/workflow_file.cc src/text_tail.cc
          src/http_step.cc src/http_request.cc src/http_client.cc
  PUBLIC rewind::engine
  PRIVATE rewind::jwt nlohmann_json::nlohmann_json spdlog::spdlog Boost::headers Threads::Threads)

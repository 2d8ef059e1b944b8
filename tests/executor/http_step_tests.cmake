# Http steps: the handler against the tests' own service (request, token,
# answers, stops), and workflow files' http steps on an engine.
rewind_add_test(http_step_test
  SOURCES http_step_test.cc
  LIBS rewind::shell rewind::server rewind_test_step_service)

rewind_add_test(http_step_engine_test
  SOURCES http_step_engine_test.cc
  LIBS rewind::shell rewind_test_step_service)

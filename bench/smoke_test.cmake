# ctest append_bench_smoke: runs append_bench briefly and passes when it exits 0
# and prints a JSON line with every figure for each configuration.
# Usage: cmake -DAPPEND_BENCH=<path to append_bench> -P smoke_test.cmake
set(appender_counts 1 4)
string(REPLACE ";" "," appenders_flag "${appender_counts}")
execute_process(
  COMMAND ${APPEND_BENCH} --seconds 0.2 --warmup 0.05 --reps 1 --durability nosync
          --appenders ${appenders_flag}
  RESULT_VARIABLE status
  OUTPUT_VARIABLE output
  ERROR_VARIABLE errors)
message("${output}${errors}")
if(NOT status EQUAL 0)
  message(FATAL_ERROR "append_bench exited with ${status}")
endif()

set(number "[0-9]+(\\.[0-9]+)?")
foreach(n IN LISTS appender_counts)
  set(line "{\"appenders\":${n},\"durability\":\"nosync\",\"events_per_s\":${number},")
  string(APPEND line "\"ack_p50_us\":${number},\"ack_p99_us\":${number},\"mean_group\":${number},")
  string(APPEND line "\"raw_events_per_s\":${number},\"ratio\":${number}}")
  if(NOT output MATCHES "${line}")
    message(FATAL_ERROR "no figures for ${n} appender(s) in the output")
  endif()
endforeach()

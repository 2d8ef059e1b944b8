# ctest e2e_bench_smoke: runs e2e_bench briefly (nosync) and passes when it
# exits 0 and prints a JSON line with every figure for each mode.
# Usage: cmake -DE2E_BENCH=<path to e2e_bench> -P e2e_smoke_test.cmake
execute_process(
  COMMAND ${E2E_BENCH} --durability nosync --reps 1 --runs 20 --warmup-runs 2
          --in-flight 50 --starters 8 --floor-appends 20 --timeout 60
  RESULT_VARIABLE status
  OUTPUT_VARIABLE output
  ERROR_VARIABLE errors)
message("${output}${errors}")
if(NOT status EQUAL 0)
  message(FATAL_ERROR "e2e_bench exited with ${status}")
endif()

set(number "[0-9]+(\\.[0-9]+)?")
foreach(mode_runs IN ITEMS "latency;20" "throughput;50")
  list(GET mode_runs 0 mode)
  list(GET mode_runs 1 runs)
  set(line "{\"mode\":\"${mode}\",\"durability\":\"nosync\",\"runs\":${runs},")
  string(APPEND line "\"p50_ms\":${number},\"p99_ms\":${number},\"commits_per_run\":${number},")
  string(APPEND line "\"floor_ms\":${number},\"ratio\":${number},\"runs_per_s\":${number},")
  string(APPEND line "\"events_per_s\":${number}}")
  if(NOT output MATCHES "${line}")
    message(FATAL_ERROR "no figures for mode ${mode} in the output")
  endif()
endforeach()

# ctest projections_bench_smoke: runs projections_bench --smoke and passes when
# it exits 0, prints every row of both tables and writes a JSON line with every
# figure. Timings are not judged.
# Usage: cmake -DPROJECTIONS_BENCH=<path to projections_bench> -P projections_smoke_test.cmake
set(json_file "${CMAKE_CURRENT_BINARY_DIR}/projections_bench_smoke.json")
file(REMOVE "${json_file}")
execute_process(
  COMMAND ${PROJECTIONS_BENCH} --smoke --json "${json_file}"
  RESULT_VARIABLE status
  OUTPUT_VARIABLE output
  ERROR_VARIABLE errors)
message("${output}${errors}")
if(NOT status EQUAL 0)
  message(FATAL_ERROR "projections_bench exited with ${status}")
endif()

set(number "[0-9]+(\\.[0-9]+)?")
foreach(phase IN ITEMS "floor scan" "catch-up" "rebuild")
  if(NOT output MATCHES "\n${phase} +[0-9]+ +${number} +${number} +${number} +${number} +${number}\n")
    message(FATAL_ERROR "no '${phase}' row in the output")
  endif()
endforeach()
if(NOT output MATCHES "# data.mdb: [0-9]+ bytes after the write")
  message(FATAL_ERROR "no data file sizes in the output")
endif()
foreach(method IN ITEMS "StateAt" "full fold")
  foreach(region IN ITEMS start middle end)
    if(NOT output MATCHES "\n${method} +${region} +[0-9]+\\.\\.[0-9]+ +[0-9]+ +${number} +${number} +${number}\n")
      message(FATAL_ERROR "no '${method}' row for the ${region} in the output")
    endif()
  endforeach()
endforeach()

file(READ "${json_file}" json)
file(REMOVE "${json_file}")
foreach(phase IN ITEMS floor catch_up rebuild)
  set(line "{\"section\":\"rebuild\",\"phase\":\"${phase}\",\"events\":[0-9]+,\"seconds\":${number},")
  string(APPEND line "\"cpu_seconds\":${number},\"events_per_s\":${number},\"x_floor\":${number},")
  string(APPEND line "\"cpu_x_floor\":${number}}")
  if(NOT json MATCHES "${line}")
    message(FATAL_ERROR "no JSON figures for the ${phase} phase")
  endif()
endforeach()
foreach(method IN ITEMS state_at full_fold)
  foreach(region IN ITEMS start middle end)
    set(line "{\"section\":\"state_at\",\"method\":\"${method}\",\"region\":\"${region}\",\"lo\":[0-9]+,")
    string(APPEND line "\"hi\":[0-9]+,\"samples\":[0-9]+,\"p50_us\":${number},\"p99_us\":${number},")
    string(APPEND line "\"max_us\":${number}}")
    if(NOT json MATCHES "${line}")
      message(FATAL_ERROR "no JSON figures for ${method} in the ${region}")
    endif()
  endforeach()
endforeach()

# rewind_library(NAME SOURCES file... [PUBLIC dep...] [PRIVATE dep...] [PRIVATE_INCLUDES dir...])
# One component's library: rewind_NAME, aliased rewind::NAME and exported under
# that name by the install, its public headers in include/ (in the build and
# installed), its internal headers included by repository path, and the
# project's warnings applied to its own sources only.
function(rewind_library name)
  cmake_parse_arguments(L "" "" "SOURCES;PUBLIC;PRIVATE;PRIVATE_INCLUDES" ${ARGN})
  add_library(rewind_${name} ${L_SOURCES})
  add_library(rewind::${name} ALIAS rewind_${name})
  set_target_properties(rewind_${name} PROPERTIES EXPORT_NAME ${name})
  target_include_directories(rewind_${name}
    PUBLIC $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:include>
    PRIVATE ${PROJECT_SOURCE_DIR} ${L_PRIVATE_INCLUDES})
  target_link_libraries(rewind_${name} PUBLIC ${L_PUBLIC} PRIVATE ${L_PRIVATE} $<BUILD_INTERFACE:rewind_warnings>)
endfunction()

# Writes OUTPUT, a C++ file defining rwd::server_internal::EmbeddedConsoleFiles():
# the bytes of each of FILES (paths relative to BASE, ';'-separated), by name.
# Run at build time: cmake -DBASE=... -DOUTPUT=... -DFILES=a|b|... -P embed_files.cmake
string(REPLACE "|" ";" FILES "${FILES}")
set(text "// Generated at build time from server/console/ by cmake/embed_files.cmake.\n")
string(APPEND text "#include \"server/src/console.h\"\n\nnamespace rwd::server_internal {\nnamespace {\n")
set(index 0)
set(entries "")
foreach(name IN LISTS FILES)
  file(READ "${BASE}/${name}" hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(LENGTH "${hex}" digits)
  math(EXPR size "${digits} / 2")
  # One byte more than the file, so that an empty file is still an array.
  string(APPEND text "const unsigned char kFile${index}[] = {${bytes}0};\n")
  string(APPEND entries "      {\"${name}\", {reinterpret_cast<const char*>(kFile${index}), ${size}}},\n")
  math(EXPR index "${index} + 1")
endforeach()
string(APPEND text "}  // namespace\n\nconst std::vector<EmbeddedFile>& EmbeddedConsoleFiles() {\n")
string(APPEND text "  static const std::vector<EmbeddedFile> files = {\n${entries}  };\n  return files;\n}\n\n")
string(APPEND text "}  // namespace rwd::server_internal\n")
file(WRITE "${OUTPUT}" "${text}")

// Reading a small file whole: workflow files, secrets, the server's local
// access file. Callers turn a failure into their own Status, naming what
// the file is to them.
//
// Thread-safety: free functions.
#pragma once

#include <cstddef>
#include <expected>
#include <string>

namespace rwd {

struct FileReadError {
  int error = 0;               // errno of the call that failed; EFBIG: longer than allowed
  const char* doing = "open";  // "open" or "read"
};

// The contents of the file at `path` (reads interrupted by signals are
// retried), or why not; EFBIG as soon as it holds more than `max_bytes`.
std::expected<std::string, FileReadError> ReadWholeFile(const std::string& path, std::size_t max_bytes);

// Drops the CR and LF characters that end `text` (a secret written by echo).
void DropLineEnds(std::string& text);

}  // namespace rwd

// One HTTP/1.1 POST and its answer, for http steps (http_step.h): the only
// translation unit of the executor that includes Boost.Beast.
//
// Thread-safety: Post may run on any number of threads at once; each call
// runs an io_context of its own on the calling thread.
#pragma once

#include <cstddef>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

#include "rewind/base/status.h"
#include "rewind/executor/http_step.h"

namespace rwd::http_internal {

// The final answer to a request (interim 1xx answers skipped).
struct Answer {
  unsigned status = 0;
  std::string body;      // empty when body_over_limit
  std::string location;  // the Location header, if any
  bool body_over_limit = false;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

// POSTs `body` with `headers` (besides Host, Content-Length and Connection:
// close) to `url` on a new connection and reads the answer; a body longer
// than `body_limit` is not kept (Answer::body_over_limit). Unavailable when
// the host does not resolve, the connection is refused or lost, the answer is
// malformed or missing, or `stop` is requested (the connection is closed at
// once).
Result<Answer> Post(const HttpUrl& url, const Headers& headers, std::string body, std::size_t body_limit,
                    const std::stop_token& stop);

}  // namespace rwd::http_internal

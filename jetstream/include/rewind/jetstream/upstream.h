// The JetStream journal: a NATS JetStream stream as the upstream log of a
// journal (rewind/journal/upstream.h), so that processes on several machines
// share one journal, each with its mirror of it.
//
// Each run has a subject of its own, SubjectPrefix(stream) + the run id;
// each append is one message there, fenced by the run's last message and
// deduplicated by its content's id (the run's chain hash after it). Blobs
// go to SubjectPrefix(stream) + "blob", deduplicated by their hash.
#pragma once

#include <memory>

#include "rewind/jetstream/stream_log.h"
#include "rewind/journal/upstream.h"

namespace rwd::jetstream {

// Opens the stream as StreamLog::Open does (errors as there).
Result<std::shared_ptr<Upstream>> OpenUpstream(const StreamOptions& options);

}  // namespace rwd::jetstream
